// SMS parts for SMPP: GSM-7 septets (extension characters escaped) or UCS-2, and concatenation
// with a UDH that never splits an escape sequence or a surrogate pair.
import { describe, expect, it } from 'vitest';
import { smsParts } from '../../src/channels/sms-parts.js';

describe('smsParts', () => {
  it('encodes GSM-7 one septet per octet, extension characters as ESC + code', () => {
    const { dataCoding, esmClass, parts } = smsParts('A€{', 7);
    expect({ dataCoding, esmClass }).toEqual({ dataCoding: 0, esmClass: 0 });
    expect([...parts[0]!]).toEqual([0x41, 0x1b, 0x65, 0x1b, 0x28]);
  });

  it('keeps 160 septets in one part and cuts 161 into 153 + 8 with a UDH', () => {
    expect(smsParts('x'.repeat(160), 1).parts).toHaveLength(1);
    const { esmClass, parts } = smsParts('x'.repeat(161), 9);
    expect(esmClass).toBe(0x40);
    expect(parts.map((p) => p.length - 6)).toEqual([153, 8]);
    expect([...parts[1]!.subarray(0, 6)]).toEqual([0x05, 0x00, 0x03, 9, 2, 2]);
  });

  it('never ends a part inside an escape sequence', () => {
    const { parts } = smsParts(`${'x'.repeat(152)}€${'y'.repeat(20)}`, 1);
    expect(parts[0]!.length - 6).toBe(152);
    expect([...parts[1]!.subarray(6, 8)]).toEqual([0x1b, 0x65]);
  });

  it('uses UCS-2 for other characters: 70 units in one part, 67 per part beyond, surrogate pairs whole', () => {
    expect(smsParts('ж'.repeat(70), 1)).toMatchObject({ dataCoding: 8, esmClass: 0, parts: [expect.any(Buffer)] });
    const { parts } = smsParts(`${'ж'.repeat(66)}🛒${'ж'.repeat(10)}`, 1);
    expect(parts.map((p) => (p.length - 6) / 2)).toEqual([66, 12]);
    expect(Buffer.from(parts[1]!.subarray(6, 10)).swap16().toString('utf16le')).toBe('🛒');
  });
});
