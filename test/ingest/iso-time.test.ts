// The fast path for Segment timestamps must read every date exactly as Date.parse does.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIsoTime } from '../../src/ingest/segment.js';

describe('parseIsoTime', () => {
  it('equals Date.parse for every toISOString() date, years -100 to 9999', () => {
    const dates = fc.date({ min: new Date('-000100-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
    fc.assert(
      fc.property(dates, (date) => {
        const text = date.toISOString();
        expect(parseIsoTime(text)).toBe(Date.parse(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('equals Date.parse on edge and malformed texts of the fast-path shape', () => {
    const texts = ['2025-02-30T00:00:00.000Z', '2024-02-29T12:00:00.000Z', '2025-13-01T00:00:00.000Z', '2025-00-10T00:00:00.000Z', '2025-01-01T24:00:00.000Z', '2025-01-01T00:60:00.000Z', '2025-01-01T00:00:60.000Z', '0099-01-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '2025-01-0aT00:00:00.000Z', '2025-01-01T00:00:00,000Z', '2025-01-01 00:00:00.000Z', '2025-01-01T00:00:00.000z', '2025-01-01T00:00:00+0100', '2025-01-01', '+002025-01-01T00:00:00.000Z'];
    for (const text of texts) expect(parseIsoTime(text), text).toBe(Date.parse(text));
  });
});
