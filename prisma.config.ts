import { defineConfig } from 'prisma/config';

// The CLI is used only for `prisma generate`; migrations run through the
// WebAssembly schema engine (src/database/migrations), which needs no download.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
