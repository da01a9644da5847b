// AppMeasurement image requests (/b/ss/{rsid}/…, SPEC §2.2) → canonical hits: visitor ids,
// page fields, events with values and serialisation, products strings, eVars/props, context
// data (`c.`), customer ids (`cid.<code>.id`). The hit id hashes the request, so an identical
// resend gets the same id and detect drops it.
import { createHash } from 'node:crypto';
import { hitLimits, isSafeKey, truncateBytes, type DimValue, type Hit, type Product } from '../model/hit.js';
import { invalid } from '../model/hit-parse.js';

/** The parameters of a request, context-data stacks (`c.`, `&a.` … `&.a`) flattened to dotted names. */
export function appMeasurementParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const stack: string[] = [];
  for (const [key, value] of new URLSearchParams(text)) {
    if (value === '' && key.length > 1 && key.endsWith('.')) stack.push(key);
    else if (value === '' && key.length > 1 && key.startsWith('.')) stack.pop();
    else {
      const name = stack.length === 0 ? key : stack.join('') + key;
      if (name.split('.').every(isSafeKey)) params.set(name, value);
    }
  }
  return params;
}

const eVarName = /^v([1-9]\d{0,2})$/;
const propName = /^c([1-9]\d?)$/;

function parseTs(text: string | undefined, receivedAt: number): number {
  if (text === undefined || text === '') return receivedAt;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    return n < 1e11 ? Math.round(n * 1000) : n;
  }
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw invalid('ts must be a Unix time or an ISO-8601 date', 0);
  return ms;
}

function addValue(values: Record<string, number>, event: string, text: string): void {
  const n = Number(text);
  if (!Number.isFinite(n)) throw invalid(`value of ${event} must be a number`, 0);
  values[event] = (values[event] ?? 0) + n;
}

/** `events`: `prodView,scAdd,event1=5,event2:serialId` → names, values, serial ids. */
function parseEvents(text: string, hit: Hit, values: Record<string, number>, dims: Record<string, DimValue>): void {
  for (const token of text.split(',')) {
    const trimmed = token.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const head = eq < 0 ? trimmed : trimmed.slice(0, eq);
    const colon = head.indexOf(':');
    const name = truncateBytes(colon < 0 ? head : head.slice(0, colon), 100);
    if (name === '' || !isSafeKey(name)) continue;
    if (!hit.events.includes(name)) hit.events.push(name);
    if (eq >= 0) addValue(values, name, trimmed.slice(eq + 1));
    if (colon >= 0) dims[`serial.${name}`] = truncateBytes(head.slice(colon + 1), 100);
  }
}

/** `products`: `category;sku;quantity;price;event1=2|event2=3;eVar1=x|eVar2=y`, comma-separated. */
function parseProducts(text: string, values: Record<string, number>, dims: Record<string, DimValue>): Product[] {
  const list: Product[] = [];
  for (const entry of text.split(',')) {
    const [category = '', sku = '', quantity = '', price = '', events = '', eVars = ''] = entry.split(';');
    for (const pair of events.split('|')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && isSafeKey(pair.slice(0, eq))) addValue(values, pair.slice(0, eq), pair.slice(eq + 1));
    }
    if (sku.trim() === '' || list.length >= hitLimits.maxProducts) continue;
    const product: Product = { sku: truncateBytes(sku.trim(), hitLimits.idBytes) };
    if (category !== '') product.category = truncateBytes(category, hitLimits.textBytes);
    if (quantity !== '' && Number.isFinite(Number(quantity))) product.quantity = Number(quantity);
    if (price !== '' && Number.isFinite(Number(price))) product.price = Number(price);
    for (const pair of eVars.split('|')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && isSafeKey(pair.slice(0, eq))) dims[`products.${list.length}.${pair.slice(0, eq)}`] = truncateBytes(pair.slice(eq + 1), hitLimits.eVarBytes);
    }
    list.push(product);
  }
  return list;
}

const namedDims: Readonly<Record<string, string>> = {
  v0: 'campaign',
  ch: 'channel',
  server: 'server',
  purchaseID: 'purchaseID',
  xact: 'transactionID',
  cc: 'currencyCode',
  state: 'state',
  zip: 'zip',
  pe: 'linkType',
  pev1: 'linkURL',
  pev2: 'linkName',
};

function dimsOf(params: Map<string, string>, aliases: Record<string, string>): Record<string, DimValue> {
  const dims: Record<string, DimValue> = {};
  for (const [key, value] of params) {
    const named = namedDims[key];
    if (named !== undefined) dims[named] = truncateBytes(value, hitLimits.eVarBytes);
    else if (eVarName.test(key) && Number(key.slice(1)) <= 250) dims[`eVar${key.slice(1)}`] = truncateBytes(value, hitLimits.eVarBytes);
    else if (propName.test(key) && Number(key.slice(1)) <= 75) dims[`prop${key.slice(1)}`] = truncateBytes(value, hitLimits.propBytes);
    else if (key.startsWith('c.')) dims[`contextData.${key.slice(2)}`] = truncateBytes(value, hitLimits.textBytes);
    else if (key.startsWith('cid.') && key.endsWith('.id') && key.length > 7) aliases[key.slice(4, -3)] = truncateBytes(value, hitLimits.idBytes);
  }
  return dims;
}

/** The hit id: a hash of what the browser sent; the receive time joins it when the request carries no time of its own. */
function requestId(rsid: string, rest: string, params: string, receivedAt: number, timed: boolean): string {
  const hash = createHash('sha256').update(rsid).update('\n').update(rest).update('\n').update(params);
  if (!timed) hash.update(`\n${receivedAt}`);
  return `am-${hash.digest('base64url').slice(0, 27)}`;
}

export interface AdobeRequest {
  source: string;
  rest: string;
  /** The query string (GET) or form body (POST). */
  params: string;
  receivedAt: number;
}

export function mapAppMeasurement(request: AdobeRequest): { hit: Hit; noContent: boolean } {
  const params = appMeasurementParams(request.params);
  const visitorId = params.get('mid') || params.get('aid') || params.get('vid') || params.get('fid');
  if (!visitorId) throw invalid('mid, aid or vid is required', 0);
  const timed = params.has('ts') || params.has('t');
  const hit: Hit = {
    id: requestId(request.source, request.rest, request.params, request.receivedAt, timed),
    source: request.source,
    visitorId: truncateBytes(visitorId, hitLimits.idBytes),
    ts: parseTs(params.get('ts'), request.receivedAt),
    receivedAt: request.receivedAt,
    type: params.has('pe') ? 'track' : 'page',
    events: [],
  };
  const aliases: Record<string, string> = {};
  const dims = dimsOf(params, aliases);
  const values: Record<string, number> = {};
  parseEvents(params.get('events') ?? '', hit, values, dims);
  const productList = parseProducts(params.get('products') ?? '', values, dims);
  if (productList.length > 0) hit.products = productList;
  for (const [field, key] of [['pageName', 'pageName'], ['pageURL', 'g'], ['referrer', 'r']] as const) {
    const value = params.get(key);
    if (value) hit[field] = truncateBytes(value, hitLimits.textBytes);
  }
  if (Object.keys(aliases).length > 0) hit.aliases = aliases;
  if (Object.keys(values).length > 0) hit.eventValues = values;
  if (Object.keys(dims).length > 0) hit.dims = dims;
  const noContent = params.get('AQB') === '1' && params.get('AQE') === '1' && params.get('ndh') === '0';
  return { hit, noContent };
}
