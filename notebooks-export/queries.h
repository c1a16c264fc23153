/* queries.h: each report section's SQL on the run log (parameters :sweep, :t, :limit) and
 * the notebook's Python cells around them (printf formats: %s a query). Private. */
#ifndef PYRAMASK_EXPORT_QUERIES_H
#define PYRAMASK_EXPORT_QUERIES_H

extern const char sql_configs[];
extern const char sql_factor_keys[];
extern const char sql_overview[];
extern const char sql_spec[];
extern const char sql_factors[];
extern const char sql_runs[];
extern const char sql_ablation[];
extern const char sql_cells[];
extern const char sql_curves[];
extern const char sql_curve_means[];
extern const char sql_schedules[];
extern const char sql_levels[];
extern const char sql_previews[];
extern const char py_setup[];
extern const char py_table[];
extern const char py_config[];
extern const char py_ablation[];
extern const char py_cells[];
extern const char py_curves[];
extern const char py_schedules[];
extern const char py_levels[];
extern const char py_previews[];

#endif
