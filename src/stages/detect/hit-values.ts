// The values a hit has for a dimension name of a trigger condition (SPEC §5): the page fields,
// `product` (each sku) and `category` (each product's category), and every other name from
// `hit.dims`. Readers are chosen once per name so the per-hit path does no name switching.
import type { DimValue, Hit, Product } from '../../model/hit.js';

/** True when some value of the dimension on this hit passes `test`; false when it has none. */
export type DimensionReader = (hit: Hit, test: (value: DimValue) => boolean) => boolean;

type PageField = 'pageName' | 'pageURL' | 'referrer' | 'searchTerm';
const pageFields = new Set<string>(['pageName', 'pageURL', 'referrer', 'searchTerm']);
const hitFields = new Set<string>([...pageFields, 'product', 'category']);

function pageReader(field: PageField): DimensionReader {
  return (hit, test) => {
    const value = hit[field];
    return value !== undefined && test(value);
  };
}

const productReader: DimensionReader = (hit, test) => {
  const products = hit.products;
  if (products !== undefined) for (let i = 0; i < products.length; i++) if (test((products[i] as Product).sku)) return true;
  return false;
};
const categoryReader: DimensionReader = (hit, test) => {
  const products = hit.products;
  if (products === undefined) return false;
  for (let i = 0; i < products.length; i++) {
    const category = (products[i] as Product).category;
    if (category !== undefined && test(category)) return true;
  }
  return false;
};

function dimsReader(name: string): DimensionReader {
  return (hit, test) => {
    const dims = hit.dims;
    return dims !== undefined && Object.hasOwn(dims, name) && test(dims[name] as DimValue);
  };
}

export function dimensionReader(name: string): DimensionReader {
  if (pageFields.has(name)) return pageReader(name as PageField);
  if (name === 'product') return productReader;
  if (name === 'category') return categoryReader;
  return dimsReader(name);
}

/** Every value of a dimension on a hit, in hit order; empty when absent. */
export function dimensionValues(hit: Hit, name: string): DimValue[] {
  return new ValueCollector().collect(hit, dimensionReader(name));
}

/** Collects the values a reader finds, with one reusable test function (no closure per call). */
export class ValueCollector {
  #values: DimValue[] = [];
  readonly #push = (value: DimValue): boolean => {
    this.#values.push(value);
    return false;
  };

  /** A new array of the values `read` finds on the hit (empty when none). */
  collect(hit: Hit, read: DimensionReader): DimValue[] {
    const values: DimValue[] = [];
    this.#values = values;
    read(hit, this.#push);
    return values;
  }
}

/** Calls `visit` with the name of every dimension that has at least one value on the hit. */
export function forEachPresentDimension(hit: Hit, visit: (name: string) => void): void {
  if (hit.pageName !== undefined) visit('pageName');
  if (hit.pageURL !== undefined) visit('pageURL');
  if (hit.referrer !== undefined) visit('referrer');
  if (hit.searchTerm !== undefined) visit('searchTerm');
  const products = hit.products;
  if (products !== undefined && products.length > 0) {
    visit('product');
    for (let i = 0; i < products.length; i++) {
      if (products[i]?.category === undefined) continue;
      visit('category');
      break;
    }
  }
  // A dims key spelled like a hit field is shadowed by the field (dimensionReader reads the field).
  const dims = hit.dims;
  if (dims !== undefined) for (const name in dims) if (Object.hasOwn(dims, name) && !hitFields.has(name)) visit(name);
}
