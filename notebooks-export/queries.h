/* queries.h: each report section's SQL on the run log (parameters :sweep, :t, :limit) and
 * the notebook's Python cells around them (printf formats: %s a query). Private. */
#ifndef PYRAMASK_EXPORT_QUERIES_H
#define PYRAMASK_EXPORT_QUERIES_H

extern const char export_sql_configs[];
extern const char export_sql_factor_keys[];
extern const char export_sql_overview[];
extern const char export_sql_spec[];
extern const char export_sql_factors[];
extern const char export_sql_runs[];
extern const char export_sql_ablation[];
extern const char export_sql_cells[];
/* Per configuration, over the seeds: the samples' model calls and quality scores (split
 * samples; the exact errors of an oracle run, kl_bigram and true_nll_bpb, NULL otherwise). */
extern const char export_sql_samples[];
extern const char export_sql_curves[];
extern const char export_sql_curve_means[];
extern const char export_sql_heldout[];
extern const char export_sql_frontier[];
extern const char export_sql_schedules[];
extern const char export_sql_levels[];
extern const char export_sql_previews[];
extern const char export_py_setup[];
extern const char export_py_table[];
extern const char export_py_config[];
extern const char export_py_ablation[];
extern const char export_py_cells[];
extern const char export_py_curves[];
extern const char export_py_heldout[];
extern const char export_py_frontier[];
extern const char export_py_schedules[];
extern const char export_py_levels[];
extern const char export_py_previews[];

#endif
