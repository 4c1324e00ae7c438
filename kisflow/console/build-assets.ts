/** `npm pack` (prepack): bundle the console's UI so the package ships it (kisflow/console/dist/). */
import { buildConsoleAssets, DIST_DIR } from './assets.ts';

await buildConsoleAssets();
process.stdout.write(`kisflow console: UI bundled into ${DIST_DIR}\n`);
