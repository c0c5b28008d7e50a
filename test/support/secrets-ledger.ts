import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every secret a test hands to the service (plaintexts it encrypts, API keys it
 * creates) is noted here, so that the end of the run can check that none of them,
 * nor any private key, reached a log line.
 */
const MIN_LENGTH = 8; // shorter values occur by chance (ports, durations)

function ledgerDir(): string | undefined {
  return process.env.KMS_TEST_LOG_DIR;
}

export function rememberSecret(value: string) {
  const dir = ledgerDir();
  if (!dir || value.length < MIN_LENGTH) return;
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, `secrets-${process.pid}.jsonl`), `${JSON.stringify(value)}\n`);
}

export interface LeakReport {
  file: string;
  line: number;
  what: string;
}

/** Patterns that must never appear in a log, whatever the test. */
const FORBIDDEN_PATTERNS: [string, RegExp][] = [
  ['a PEM private key', /PRIVATE KEY-----/],
  ['a wrapped private key', /kms1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{8,}\./],
  ['an API key', /kms_[A-Za-z0-9_-]{43}/],
  ['an authorization header', /"authorization":"Bearer/i],
];

/** Scans every log file of the run for the remembered secrets and the forbidden patterns. */
export function scanLogs(dir: string): { filesScanned: number; linesScanned: number; leaks: LeakReport[] } {
  const files = readdirSync(dir);
  const secrets = files
    .filter((file) => file.startsWith('secrets-'))
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as string);
  const logs = files.filter((file) => file.endsWith('.log'));
  const leaks: LeakReport[] = [];
  let linesScanned = 0;
  for (const file of logs) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    lines.forEach((text, index) => {
      linesScanned += 1;
      for (const [what, pattern] of FORBIDDEN_PATTERNS) {
        if (pattern.test(text)) leaks.push({ file, line: index + 1, what });
      }
      for (const secret of secrets) {
        if (text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1))) {
          leaks.push({ file, line: index + 1, what: 'a secret a test used' });
        }
      }
    });
  }
  return { filesScanned: logs.length, linesScanned, leaks };
}
