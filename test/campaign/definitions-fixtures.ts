// Definitions shared by the campaign definition and lifecycle tests: SPEC's cart abandonment
// event (profile-based email) and a browse abandonment SMS (event-based), their templates and a
// test profile.
import type { EventDocument } from '../../src/model/event.js';

export const cartEvent: EventDocument = {
  kind: 'Event',
  id: 'EVTcartAbandonment',
  trigger: 'cart-abandonment',
  channel: 'email',
  targeting: 'profile',
  reconciliation: [{ alias: 'userId', profileField: 'id' }, { alias: 'email', profileField: 'email', hash: 'sha256' }, { visitorLink: true }],
  enrichment: [
    { name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' } },
    { name: 'store', resource: 'stores', join: { id: 'profile.storeId' } },
  ],
  validity: '2d',
  typology: { fatigue: [{ max: 1, per: '24h', channel: 'email' }, { max: 3, per: '7d', channel: 'all' }] },
  template: 'cart-abandonment-email',
};

export const browseEvent: EventDocument = {
  kind: 'Event',
  id: 'EVTbrowseAbandonment',
  trigger: 'browse-abandonment',
  channel: 'sms',
  targeting: 'event',
  recipient: { phone: 'ctx.dims.eVar9' },
  template: 'browse-sms',
};

export const cartTemplate = {
  kind: 'Template',
  id: 'cart-abandonment-email',
  channel: 'email',
  from: 'Shop <shop@example.com>',
  subject: "{{default profile.firstName 'Hello'}}, your cart is waiting",
  html: '<p>{{#listing ctx.products}}{{sku}} {{/listing}}</p>',
};
export const browseTemplate = { kind: 'Template', id: 'browse-sms', channel: 'sms', text: 'Still thinking about {{ctx.dims.pageName}}?' };
export const amelie = { kind: 'TestProfile', id: 'tp-amelie', name: 'Amélie (test)', address: 'proof-amelie@example.com', profile: { firstName: 'Amélie', locale: 'fr' }, event: { dims: { pageName: 'cart' } } };

