// SMS encoding and segment counts (SPEC §6.5): GSM-7 vs UCS-2 and the 160/153 and 70/67 limits.
import { describe, expect, it } from 'vitest';
import { smsInfo } from '../../src/model/sms-encoding.js';

describe('smsInfo', () => {
  it.each([
    ['Your cart is waiting: https://shop.example.com/c/1', 'GSM-7'],
    ['Élise, votre panier à 12€ vous attend ! ¿Qué? Ünïcode? no: ï is not GSM', 'UCS-2'],
    ['Amélie, votre panier vous attend à la caisse', 'GSM-7'],
    ['Ciao Łukasz', 'UCS-2'],
    ['Hi 👋', 'UCS-2'],
    ['Привет', 'UCS-2'],
    ['ΔΦΓΛΩΠΨΣΘΞ @£$¥ ÄÖÑÜ§¿äöñüà', 'GSM-7'],
  ])('%s is %s', (text, encoding) => {
    expect(smsInfo(text).encoding).toBe(encoding);
  });

  it.each([
    [160, 1],
    [161, 2],
    [306, 2],
    [307, 3],
  ])('GSM-7: %i characters make %i segments', (length, segments) => {
    expect(smsInfo('a'.repeat(length))).toEqual({ encoding: 'GSM-7', segments, units: length });
  });

  it.each([
    [70, 1],
    [71, 2],
    [134, 2],
    [135, 3],
  ])('UCS-2: %i characters make %i segments', (length, segments) => {
    expect(smsInfo('ж'.repeat(length))).toEqual({ encoding: 'UCS-2', segments, units: length });
  });

  it('counts extension characters (€ [ ] { } ^ ~ | \\) as two septets', () => {
    expect(smsInfo('€[]')).toEqual({ encoding: 'GSM-7', segments: 1, units: 6 });
    expect(smsInfo('{}^~|\\')).toMatchObject({ encoding: 'GSM-7', units: 12 });
    expect(smsInfo('€'.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(smsInfo(`${'a'.repeat(159)}€`)).toEqual({ encoding: 'GSM-7', segments: 2, units: 161 });
  });

  it('counts an emoji as two UCS-2 units', () => {
    expect(smsInfo('👋'.repeat(35))).toEqual({ encoding: 'UCS-2', segments: 1, units: 70 });
    expect(smsInfo(`${'👋'.repeat(35)}a`)).toEqual({ encoding: 'UCS-2', segments: 2, units: 71 });
  });

  it('has no segment for an empty text', () => {
    expect(smsInfo('')).toEqual({ encoding: 'GSM-7', segments: 0, units: 0 });
  });
});
