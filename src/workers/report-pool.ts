/**
 * A thread of the report pool (src/reports/pool.ts, piscina): PDF and CSV reports off the main
 * thread. From source, piscina's own worker.js loads this file for its default export. In the
 * compiled binary there is no piscina/dist/worker.js to start, so scripts/build.ts puts piscina's
 * bootstrap at the top of this entrypoint and points piscina at it.
 */
import runReportJob from "../reports/job.ts";

export default runReportJob;
