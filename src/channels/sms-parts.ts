// An SMS text as SMPP short_message parts (SPEC §7): GSM-7 (data_coding 0, one septet per octet,
// the SMSC packs them) when every character is in the GSM 03.38 alphabet, UCS-2 (data_coding 8,
// UTF-16BE) otherwise. Longer than one message (160 septets / 70 units), the text is cut into
// parts of 153 septets / 67 units, each led by a concatenation UDH (05 00 03 ref total seq);
// a part never ends inside an escape sequence or a surrogate pair.
import { hashString } from '../core/redis/keys.js';

const basic = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const extension: Record<string, number> = { '\f': 0x0a, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2f, '[': 0x3c, '~': 0x3d, ']': 0x3e, '|': 0x40, '€': 0x65 };
const basicCodes = new Map([...basic].map((char, code) => [char, code]));

export const DATA_CODING_GSM7 = 0x00;
export const DATA_CODING_UCS2 = 0x08;
export const ESM_CLASS_UDHI = 0x40;

export interface SmsParts {
  dataCoding: number;
  /** esm_class of every part: the UDH indicator when the text is cut into parts. */
  esmClass: number;
  /** Each part's short_message octets, UDH included. */
  parts: Buffer[];
}

/** The text as GSM-7 septet groups (an extension character is two septets), or undefined. */
function gsmUnits(text: string): number[][] | undefined {
  const units: number[][] = [];
  for (const char of text) {
    const code = basicCodes.get(char);
    if (code !== undefined && char !== '\x1b') units.push([code]);
    else if (extension[char] !== undefined) units.push([0x1b, extension[char]]);
    else return undefined;
  }
  return units;
}

/** UTF-16 code unit groups of a text: a surrogate pair stays together. */
function ucs2Units(text: string): number[][] {
  const units: number[][] = [];
  for (const char of text) {
    const group: number[] = [];
    for (let i = 0; i < char.length; i++) group.push(char.charCodeAt(i));
    units.push(group);
  }
  return units;
}

/** Cuts groups into parts of at most `size` units, never splitting a group. */
function cut(groups: number[][], size: number): number[][] {
  const parts: number[][] = [];
  let current: number[] = [];
  for (const group of groups) {
    if (current.length + group.length > size) {
      parts.push(current);
      current = [];
    }
    current.push(...group);
  }
  if (current.length > 0 || parts.length === 0) parts.push(current);
  return parts;
}

function octets(units: number[], ucs2: boolean): Buffer {
  if (!ucs2) return Buffer.from(units);
  const buffer = Buffer.alloc(units.length * 2);
  units.forEach((unit, i) => buffer.writeUInt16BE(unit, i * 2));
  return buffer;
}

/** Concatenated-SMS reference of a message: stable, so a resend carries the same one. */
export const concatReference = (messageId: string): number => hashString(messageId) & 0xff;

export function smsParts(text: string, reference: number): SmsParts {
  const gsm = gsmUnits(text);
  const ucs2 = gsm === undefined;
  const groups = gsm ?? ucs2Units(text);
  const [single, part] = ucs2 ? [70, 67] : [160, 153];
  const total = groups.reduce((n, g) => n + g.length, 0);
  const dataCoding = ucs2 ? DATA_CODING_UCS2 : DATA_CODING_GSM7;
  if (total <= single) return { dataCoding, esmClass: 0, parts: [octets(groups.flat(), ucs2)] };
  const pieces = cut(groups, part);
  if (pieces.length > 255) throw new RangeError(`an SMS of ${pieces.length} parts cannot be concatenated (255 at most)`);
  const parts = pieces.map((units, i) => Buffer.concat([Buffer.from([0x05, 0x00, 0x03, reference & 0xff, pieces.length, i + 1]), octets(units, ucs2)]));
  return { dataCoding, esmClass: ESM_CLASS_UDHI, parts };
}
