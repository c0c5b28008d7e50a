/**
 * What browsers get: CORS for the origins of CORS_ORIGINS (every environment), and,
 * outside production only, the development pages: the device demo (/demo) and the
 * offline GraphQL explorer (GET /graphql). Imports only config; nothing imports it but
 * the application root.
 */
export { configureCors } from './cors';
export { DevPagesModule } from './dev-pages.module';
export { explorerLandingPage } from './explorer-page';
