// Writes the demo shop's sample data (config/definitions/profiles.ndjson and catalog.ndjson):
// 200 customer profiles and a 500-product catalog, generated from a fixed seed so that a re-run
// gives the same files byte for byte. Run: npx tsx scripts/generate-demo-data.ts [DIR]
// Addresses use reserved domains and fictional number ranges (example.com; UK 07700 900xxx,
// FR 06 39 98 xx xx, US 202-555-01xx), so no real person can be mailed or texted by the demo.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The folder written: the first argument, else config/definitions (the committed files). */
const outDir = resolve(process.argv[2] ?? resolve(import.meta.dirname, '../config/definitions'));

/** mulberry32: a tiny deterministic PRNG (the seed fixes every file). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(20251128);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
const pad = (n: number, width: number): string => String(n).padStart(width, '0');

// ---------------------------------------------------------------------------------------------
// Catalog

const categories: Record<string, { nouns: string[]; min: number; max: number }> = {
  Shoes: { nouns: ['Sneakers', 'Boots', 'Loafers', 'Sandals', 'Running Shoes', 'Derbies'], min: 39, max: 189 },
  Shirts: { nouns: ['Shirt', 'Oxford Shirt', 'Polo', 'T-Shirt', 'Henley'], min: 19, max: 89 },
  Trousers: { nouns: ['Chinos', 'Jeans', 'Trousers', 'Joggers', 'Shorts'], min: 29, max: 119 },
  Jackets: { nouns: ['Jacket', 'Parka', 'Blazer', 'Raincoat', 'Bomber'], min: 69, max: 299 },
  Knitwear: { nouns: ['Sweater', 'Cardigan', 'Hoodie', 'Turtleneck'], min: 39, max: 149 },
  Bags: { nouns: ['Backpack', 'Tote Bag', 'Messenger Bag', 'Weekender', 'Wallet'], min: 25, max: 220 },
  Accessories: { nouns: ['Scarf', 'Beanie', 'Belt', 'Sunglasses', 'Cap', 'Gloves'], min: 12, max: 79 },
  Home: { nouns: ['Throw Blanket', 'Cushion', 'Candle', 'Vase', 'Table Lamp'], min: 15, max: 129 },
  Kitchen: { nouns: ['Coffee Mug', 'Teapot', 'Chef Knife', 'Cutting Board', 'Dutch Oven'], min: 9, max: 179 },
  Sports: { nouns: ['Yoga Mat', 'Water Bottle', 'Training Tee', 'Gym Bag', 'Running Cap'], min: 12, max: 89 },
};
const adjectives = ['Classic', 'Everyday', 'Urban', 'Alpine', 'Coastal', 'Heritage', 'Essential', 'Weekend', 'Nordic', 'Studio', 'Trail', 'Soft', 'Vintage', 'Modern'];
const materials = ['Cotton', 'Linen', 'Wool', 'Leather', 'Canvas', 'Denim', 'Merino', 'Suede', 'Recycled', 'Organic', 'Bamboo', 'Cashmere'];
const colours = ['Navy', 'Black', 'Olive', 'Sand', 'Grey', 'Burgundy', 'White', 'Rust', 'Sky Blue', 'Forest Green'];

function catalog(count: number): Array<Record<string, unknown>> {
  const names = Object.keys(categories);
  const seen = new Set<string>();
  const rows: Array<Record<string, unknown>> = [];
  for (let i = 1; rows.length < count; i++) {
    const category = names[(rows.length * 7 + Math.floor(rand() * 3)) % names.length] as string;
    const spec = categories[category] as (typeof categories)[string];
    const name = `${pick(adjectives)} ${pick(materials)} ${pick(spec.nouns)} (${pick(colours)})`;
    if (seen.has(name)) continue; // names are unique, so a message always names the right product
    seen.add(name);
    const sku = `SKU-${pad(rows.length + 1, 4)}`;
    const price = Math.floor(spec.min + rand() * (spec.max - spec.min)) + pick([0.9, 0.99, 0.5, 0]);
    const slug = sku.toLowerCase();
    rows.push({ sku, name, price: Math.round(price * 100) / 100, category, image: `https://shop.example.com/img/${slug}.jpg`, url: `https://shop.example.com/p/${slug}` });
    if (i > count * 20) throw new Error('not enough distinct names');
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Profiles

const people = {
  en: {
    first: ['Emma', 'Oliver', 'Amelia', 'Harry', 'Isla', 'Jack', 'Ava', 'George', 'Mia', 'Noah', 'Grace', 'Leo', 'Sophie', 'Arthur', 'Lily', 'Oscar', 'Chloe', 'Thomas', 'Ruby', 'James'],
    last: ['Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Evans', 'Walker', 'Wright', 'Hughes', 'Green', 'Hall', 'Wood', 'Clarke', 'Turner'],
  },
  us: {
    first: ['Olivia', 'Liam', 'Emily', 'Ethan', 'Madison', 'Mason', 'Abigail', 'Logan', 'Hannah', 'Lucas', 'Ella', 'Caleb', 'Avery', 'Wyatt', 'Harper'],
    last: ['Johnson', 'Miller', 'Davis', 'Garcia', 'Rodriguez', 'Martinez', 'Anderson', 'Thomas', 'Moore', 'Jackson', 'White', 'Harris', 'Lopez', 'Young'],
  },
  fr: {
    first: ['Amélie', 'Lucas', 'Chloé', 'Hugo', 'Léa', 'Louis', 'Manon', 'Gabriel', 'Camille', 'Arthur', 'Inès', 'Jules', 'Zoé', 'Raphaël', 'Louise', 'Théo', 'Jeanne', 'Mathis'],
    last: ['Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau', 'Simon', 'Laurent', 'Lefèvre', 'Michel', 'Garnier'],
  },
} as const;

type Market = keyof typeof people;
const markets: Record<Market, { locale: string; timezone: string; phone: (n: number) => string }> = {
  en: { locale: 'en-GB', timezone: 'Europe/London', phone: (n) => `+447700900${pad(n % 1000, 3)}` },
  us: { locale: 'en-US', timezone: 'America/New_York', phone: (n) => `+1202555${pad(100 + (n % 100), 4)}` },
  fr: { locale: 'fr-FR', timezone: 'Europe/Paris', phone: (n) => `+3363998${pad(n % 10000, 4)}` },
};

/** An address-friendly form of a name: `Amélie` → `amelie`. */
const ascii = (text: string): string => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]/g, '');

const emailOptOuts = new Set([17, 121]);
const smsOptOuts = new Set([8, 64, 150]);

function profiles(count: number): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  for (let n = 1; n <= count; n++) {
    // One in three French, the rest British or American.
    const market: Market = n % 3 === 2 ? 'fr' : n % 3 === 0 ? 'us' : 'en';
    const { first, last } = people[market];
    const firstName = pick(first);
    const lastName = pick(last);
    const id = `u-${pad(n, 4)}`;
    const row: Record<string, unknown> = { id, email: `${ascii(firstName)}.${ascii(lastName)}.${pad(n, 4)}@example.com`, firstName, lastName, locale: markets[market].locale, timezone: markets[market].timezone };
    const smsOptOut = smsOptOuts.has(n);
    if (smsOptOut || rand() < 0.45) row.phone = markets[market].phone(n);
    row.loyaltyTier = pick(['bronze', 'bronze', 'silver', 'gold']);
    // A few customers who opted out, so the demo shows `ignored (optOut)` too.
    if (emailOptOuts.has(n)) row.emailOptOut = true;
    if (smsOptOut) row.smsOptOut = true;
    rows.push(row);
  }
  return rows;
}

const ndjson = (rows: ReadonlyArray<Record<string, unknown>>): string => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';

writeFileSync(join(outDir, 'catalog.ndjson'), ndjson(catalog(500)));
writeFileSync(join(outDir, 'profiles.ndjson'), ndjson(profiles(200)));
process.stdout.write(`wrote ${join(outDir, 'catalog.ndjson')} and ${join(outDir, 'profiles.ndjson')}\n`);
