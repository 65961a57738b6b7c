/** Where the built dashboard is: the static files `taskwire serve` serves at `/` (built by `npm run build`). */
export declare const dashboardDir: string;
