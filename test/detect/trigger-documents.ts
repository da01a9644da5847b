// Trigger documents shared by the detect property and fault tests: one of each type and shape
// whose outcome the reference evaluator (reference.ts) predicts exactly. Inactivity 1 s.
const excludeCheckout = { match: 'any', containers: [[{ metric: 'scCheckout', op: 'exists' }], [{ metric: 'purchase', op: 'exists' }]] };
export const triggerDocuments = [
  {
    kind: 'Trigger', id: 'cart-abandonment', name: 'Cart abandonment', source: 'shop-web', type: 'abandonment',
    include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists' }]] }, exclude: excludeCheckout, inactivity: '1s', metadata: ['pageName', 'products'],
  },
  {
    kind: 'Trigger', id: 'signup', name: 'Sign-up, no purchase before', source: 'shop-web', type: 'action',
    include: { match: 'all', containers: [[{ metric: 'event7', op: 'exists' }]] }, exclude: { containers: [[{ metric: 'purchase', op: 'exists' }]] },
  },
  {
    kind: 'Trigger', id: 'viewed-and-cart', name: 'Viewed a product and saw the cart', source: 'shop-web', type: 'abandonment',
    include: { match: 'all', containers: [[{ metric: 'prodView', op: 'exists' }], [{ dimension: 'pageName', op: 'eq', value: 'cart' }]] },
    exclude: { containers: [[{ metric: 'purchase', op: 'exists' }]] }, inactivity: '1s', metadata: ['pageName'],
  },
  {
    kind: 'Trigger', id: 'deals-or-signup', name: 'Deals page or sign-up, no checkout', source: 'shop-web', type: 'abandonment',
    include: { match: 'any', containers: [[{ metric: 'event7', op: 'exists' }], [{ dimension: 'pageName', op: 'startsWith', value: 'Deal' }]] },
    exclude: { containers: [[{ metric: 'scCheckout', op: 'exists' }]] }, inactivity: '1s', metadata: ['pageName'],
  },
  {
    kind: 'Trigger', id: 'added-on-product-page', name: 'Added on a product page, nothing removed before', source: 'shop-web', type: 'action',
    include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists' }], [{ dimension: 'pageName', op: 'eq', value: 'product' }]] },
    exclude: { containers: [[{ metric: 'scRemove', op: 'exists' }]] },
  },
  {
    kind: 'Trigger', id: 'left-after-views', name: 'Visit ended after 2+ product views', source: 'shop-web', type: 'sessionEnd',
    include: { containers: [[{ metric: 'prodView', op: 'gte', value: 2, scope: 'visit' }]] }, exclude: { containers: [[{ metric: 'purchase', op: 'exists' }]] },
  },
  {
    kind: 'Trigger', id: 'landed-home', name: 'Visit starting on home', source: 'shop-web', type: 'sessionStart',
    include: { containers: [[{ dimension: 'pageName', op: 'eq', value: 'home' }]] }, exclude: { containers: [[{ metric: 'scCheckout', op: 'exists' }]] },
  },
];
