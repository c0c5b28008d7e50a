import { join } from 'node:path';

/**
 * The repository root, from src/web (tests, ts) and dist/web (npm start) alike. The
 * development pages read the demo (examples/web-demo) and the web client library
 * (clients/web/src) from the checkout: they exist only where the repository does.
 */
export const REPOSITORY_ROOT = join(__dirname, '..', '..');
