import { MetricsRecorder } from '../../src/telemetry';
import { authDevice, newUserId } from '../support/auth-operations';
import { errorCode, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

/** The value of one Prometheus sample line; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('brute force is visible: passcode and PIN checks by outcome', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      // Any key with one failure would be a problem key: a user's wrong PINs must not make one.
      env: { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', METRICS_PROBLEM_KEY_MIN_FAILURES: '1', METRICS_PROBLEM_KEY_FAILURE_RATE: '0.01' },
    });
  });
  afterAll(() => t.close());

  it('counts valid, invalid and locked checks and the lock-out, in the summary and in Prometheus', async () => {
    const user = authDevice(t, await generateKey(t, newDeviceId()), newUserId());
    expect((await user.setPin('7395')).data).toEqual({ setTransactionPin: true });
    expect((await user.verifyPin('7395')).data!.verifyTransactionPin.valid).toBe(true);
    for (let i = 0; i < 4; i += 1) expect((await user.verifyPin('9173')).data!.verifyTransactionPin.valid).toBe(false);
    // The fifth wrong secret, given to change, locks the PIN.
    expect((await user.changePin('9173', '5823')).data).toEqual({ changeTransactionPin: false });
    for (let i = 0; i < 2; i += 1) expect(errorCode(await user.verifyPin('7395'))).toBe('CREDENTIAL_LOCKED');

    await t.app.get(MetricsRecorder).flush();
    const summary = await t.gql(
      `query { encryptionMetricsSummary(timeframeHours: 1) {
        credentialChecks { operation valid invalid locked lockouts }
        operations { operation failuresByReason { reason count } }
        problematicKeys { count }
      } }`,
      undefined,
      t.as('ops'),
    );
    expect(summary.errors).toBeUndefined();
    const { credentialChecks, operations, problematicKeys } = summary.data!.encryptionMetricsSummary;
    expect(credentialChecks).toEqual([
      { operation: 'changeTransactionPin', valid: 0, invalid: 1, locked: 0, lockouts: 1 },
      { operation: 'verifyTransactionPin', valid: 1, invalid: 4, locked: 2, lockouts: 0 },
    ]);
    expect(operations.find((entry: { operation: string }) => entry.operation === 'verifyTransactionPin').failuresByReason).toEqual([
      { reason: 'CREDENTIAL_INVALID', count: 4 },
      { reason: 'CREDENTIAL_LOCKED', count: 2 },
    ]);
    expect(problematicKeys.count).toBe(0);

    const text = await (await fetch(`${t.baseUrl}/metrics`, { headers: t.as('ops') })).text();
    const checks = (operation: string, outcome: string) =>
      sample(text, `kms_credential_checks_total{operation="${operation}",outcome="${outcome}"}`);
    expect([checks('verifyTransactionPin', 'valid'), checks('verifyTransactionPin', 'invalid'), checks('verifyTransactionPin', 'locked')])
      .toEqual([1, 4, 2]);
    expect(checks('changeTransactionPin', 'invalid')).toBe(1);
    expect(sample(text, 'kms_credential_lockouts_total{operation="changeTransactionPin"}')).toBe(1);
    expect(sample(text, 'kms_credential_lockouts_total{operation="verifyTransactionPin"}')).toBeUndefined();
    // setTransactionPin checks nothing: it has no check series.
    expect(text).not.toContain('kms_credential_checks_total{operation="setTransactionPin"');
  });
});
