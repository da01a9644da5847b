// How an SMS text is sent (SPEC §6.5): GSM-7 when every character is in the GSM 03.38 basic set or
// its extension table (an extension character costs two septets: escape + code), UCS-2 otherwise.
// One message holds 160 septets / 70 UCS-2 units; concatenated parts lose a header: 153 / 67.

export interface SmsInfo {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  /** Septets for GSM-7, UTF-16 code units for UCS-2. */
  units: number;
}

const basic = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const extension = new Set('\f^{}\\[~]|€');

const limits = {
  'GSM-7': { single: 160, part: 153 },
  'UCS-2': { single: 70, part: 67 },
} as const;

/** Septets of a GSM-7 text, or undefined when a character is outside the GSM alphabet. */
function gsmSeptets(text: string): number | undefined {
  let septets = 0;
  for (const char of text) {
    if (basic.has(char)) septets += 1;
    else if (extension.has(char)) septets += 2;
    else return undefined;
  }
  return septets;
}

export function smsInfo(text: string): SmsInfo {
  const septets = gsmSeptets(text);
  const encoding = septets === undefined ? 'UCS-2' : 'GSM-7';
  const units = septets ?? text.length;
  const { single, part } = limits[encoding];
  const segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / part);
  return { encoding, segments, units };
}
