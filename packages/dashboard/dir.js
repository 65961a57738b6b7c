/** Where the built dashboard is: the static files `taskwire serve` serves at `/` (built by `npm run build`). */
import { fileURLToPath } from 'node:url';

export const dashboardDir = fileURLToPath(new URL('./dist', import.meta.url));
