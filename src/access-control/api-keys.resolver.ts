import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { RequireScope, Scope } from './scopes';
import { ApiKeyIdArgs, CreateApiKeyInput } from './dto/api-key.inputs';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyInfo, CreatedApiKey } from './models/api-key.model';

@Resolver()
export class ApiKeysResolver {
  constructor(private readonly service: ApiKeysService) {}

  @RequireScope(Scope.ADMIN)
  @Mutation(() => CreatedApiKey, { description: 'A new API key; the key is shown only in this result.' })
  async createApiKey(@Args('input') input: CreateApiKeyInput): Promise<CreatedApiKey> {
    const { apiKey, key } = await this.service.create(input.name, input.scopes);
    return { id: apiKey.id, name: apiKey.name, scopes: apiKey.scopes, key };
  }

  @RequireScope(Scope.ADMIN)
  @Mutation(() => Boolean, { description: 'Revokes an API key at once, on every replica.' })
  revokeApiKey(@Args() { id }: ApiKeyIdArgs): Promise<boolean> {
    return this.service.revoke(id);
  }

  @RequireScope(Scope.ADMIN)
  @Query(() => [ApiKeyInfo], { description: 'Every API key, revoked ones included (never the keys).' })
  async apiKeys(): Promise<ApiKeyInfo[]> {
    return (await this.service.list()).map(
      ({ id, name, scopes, prefix, createdAt, lastUsedAt, revokedAt }) => ({
        id, name, scopes, prefix, createdAt, lastUsedAt, revokedAt,
      }),
    );
  }
}
