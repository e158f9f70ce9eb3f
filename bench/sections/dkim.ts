import { section } from '../lib/registry.js';
section('dkim', async () => undefined);
