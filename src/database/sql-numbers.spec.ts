import { integersOfArrayText, rate, round, toNumber } from './sql-numbers';

describe('SQL number conversion', () => {
  it('converts bigint, Decimal-like, string, number and null explicitly', () => {
    expect(toNumber(12n)).toBe(12);
    expect(toNumber({ toNumber: () => 2.5 })).toBe(2.5);
    expect(toNumber('7')).toBe(7);
    expect(toNumber(3.25)).toBe(3.25);
    expect(toNumber(null)).toBe(0);
    expect(toNumber(2n ** 40n)).toBe(2 ** 40);
  });

  it('rounds rates to 4 decimals and has no rate for nothing', () => {
    expect(rate(2, 3)).toBe(0.6667);
    expect(rate(1, 3)).toBe(0.3333);
    expect(rate(3, 3)).toBe(1);
    expect(rate(0, 0)).toBeNull();
    expect(round(48.123456, 2)).toBe(48.12);
    expect(round(0.125, 2)).toBe(0.13);
  });

  it('reads the integers of an array sent as text', () => {
    expect(integersOfArrayText('{}')).toEqual([]);
    expect(integersOfArrayText('{5}')).toEqual([5]);
    expect(integersOfArrayText('{12,0,345}')).toEqual([12, 0, 345]);
    expect(integersOfArrayText('{-3,4}')).toEqual([-3, 4]);
    expect(integersOfArrayText(`{${2 ** 53 - 1},1}`)).toEqual([2 ** 53 - 1, 1]);
    expect(integersOfArrayText('{1,2}{}{-3}')).toEqual([1, 2, -3]);
    expect(integersOfArrayText('')).toEqual([]);
  });
});
