// The same REST API suite as on Node, against the Worker's fetch handler inside workerd.
import { exports } from 'cloudflare:workers';
import { routeSuite } from '../routes/route-suite';

routeSuite('Workers', () => (path, init) => exports.default.fetch(new Request(`http://hastic.test${path}`, init)));
