import { ErrorCode } from '../common/errors/error-code';
import { normalizePasscode, passcodeViolation, pinViolation, weakCredential } from './credential-policy';

describe('pinViolation', () => {
  it.each(['1357', '2580', '8642', '0852', '135790', '111112', '121212', '901234', '246810', '7890', '8901', '0987'])(
    'accepts %s',
    (pin) => expect(pinViolation(pin)).toBeNull(),
  );

  it.each(['0000', '1111', '9999', '000000', '777777'])('refuses %s as one repeated digit', (pin) =>
    expect(pinViolation(pin)).toBe('REPEATED_DIGIT'),
  );

  it.each(['0123', '1234', '6789', '123456', '456789', '3210', '9876', '654321', '987654', '543210'])(
    'refuses %s as a straight sequence',
    (pin) => expect(pinViolation(pin)).toBe('SEQUENCE'),
  );

  it.each(['', '123', '12345', '1234567', '13579135'])('refuses %j by length', (pin) =>
    expect(pinViolation(pin)).toBe('LENGTH'),
  );

  it.each(['12a4', '12 4', '1.34', '+135', '١٣٥٧', '１３５７'])('refuses %j: not ASCII digits', (pin) =>
    expect(pinViolation(pin)).toBe('NOT_DIGITS'),
  );
});

describe('passcodeViolation', () => {
  it('takes 6 to 64 characters, counted in code points', () => {
    expect(passcodeViolation('abcde')).toBe('LENGTH');
    expect(passcodeViolation('abcdef')).toBeNull();
    expect(passcodeViolation('x'.repeat(64))).toBeNull();
    expect(passcodeViolation('x'.repeat(65))).toBe('LENGTH');
    expect(passcodeViolation('🔐🔐🔐🔐🔐🔐')).toBeNull(); // 6 characters, 12 UTF-16 units
    expect(passcodeViolation('🔐'.repeat(64))).toBeNull();
    expect(passcodeViolation('🔐'.repeat(65))).toBe('LENGTH');
  });

  it('counts after NFC normalization: a decomposed é is one character', () => {
    const decomposed = 'cafe\u0301s'; // 6 code points, 5 characters
    expect(passcodeViolation(decomposed)).toBeNull();
    expect(passcodeViolation(normalizePasscode(decomposed))).toBe('LENGTH');
    expect(normalizePasscode('caf\u00e9')).toBe(normalizePasscode('cafe\u0301'));
  });
});

describe('weakCredential', () => {
  it('is WEAK_CREDENTIAL naming the rule, never the secret', () => {
    const error = weakCredential('PIN', 'SEQUENCE');
    expect(error.code).toBe(ErrorCode.WEAK_CREDENTIAL);
    expect(error.extensions).toEqual({ violation: 'SEQUENCE' });
    expect(weakCredential('passcode', 'LENGTH').message).toMatch(/6 to 64/);
  });
});
