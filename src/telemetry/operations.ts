/**
 * Every measured operation, by the name its EncryptionMetric rows, Prometheus
 * labels and summary carry. One list, so that a name is never spelt twice.
 */
export const OPERATIONS = [
  'generate',
  'encrypt',
  'decrypt',
  'rotate',
  'revoke',
  'setPasscode',
  'verifyPasscode',
  'changePasscode',
  'setTransactionPin',
  'verifyTransactionPin',
  'changeTransactionPin',
  'dailyJob',
] as const;

export type OperationName = (typeof OPERATIONS)[number];
