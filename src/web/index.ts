/**
 * What browsers get: CORS for the origins of CORS_ORIGINS (every environment). Imports
 * only config; nothing imports it but the application root.
 */
export { configureCors } from './cors';
