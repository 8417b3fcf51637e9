# R survey side of benchmarks/bench_core.py.
#
#   Rscript benchmarks/bench_r.R DATA.csv REPS BUDGET_SECONDS
#
# Reads the CSV (not timed), then times with system.time() only the design declaration and the
# three estimation tasks of bench_core.py, and prints one JSON document on stdout: per task the
# elapsed seconds of each timed run, the warm-up run, a note, and the estimates (coefficients and
# standard errors) for the correctness check. Each task is run once to warm up, then up to REPS
# times while the runs fit in BUDGET_SECONDS; a task whose warm-up run alone exceeds the budget is
# not repeated (its single run is reported, with a note).

suppressPackageStartupMessages({
  library(survey)
  library(data.table)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: bench_r.R DATA.csv REPS BUDGET_SECONDS")
path <- args[1]
reps <- as.integer(args[2])
budget <- as.numeric(args[3])

options(survey.lonely.psu = "fail")

d <- fread(path, data.table = FALSE)
vars <- paste0("y", 0:9)
f_vars <- as.formula(paste("~", paste(vars, collapse = " + ")))

elapsed <- function(expr) system.time(expr)[["elapsed"]]

# Warm up once, then repeat while the budget allows (at least once unless the warm-up run alone
# exceeds the budget).
time_task <- function(fun) {
  result <- NULL
  warm <- elapsed(result <- fun())
  if (warm > budget) {
    return(list(times = warm, warmup = warm, result = result,
                note = sprintf("single cold run (%.0f s > budget %.0f s): not repeated",
                               warm, budget)))
  }
  n_rep <- max(1L, min(reps, as.integer(floor(budget / max(warm, 1e-3)))))
  times <- numeric(n_rep)
  for (i in seq_len(n_rep)) times[i] <- elapsed(result <- fun())
  note <- if (n_rep < reps) sprintf("%d of %d runs (time budget %.0f s)", n_rep, reps, budget) else ""
  list(times = times, warmup = warm, result = result, note = note)
}

long_svymean <- function(res) {
  data.frame(variable = vars, estimate = unname(coef(res)[vars]),
             se = unname(SE(res)[vars]), stringsAsFactors = FALSE)
}

long_svyby <- function(res, by) {
  res <- as.data.frame(res)
  out <- lapply(vars, function(v) {
    cells <- res[, by, drop = FALSE]
    cbind(cells, data.frame(variable = v, estimate = res[[v]], se = res[[paste0("se.", v)]],
                            stringsAsFactors = FALSE))
  })
  do.call(rbind, out)
}

design_run <- time_task(function() {
  svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d)
})
des <- design_run$result

whole <- time_task(function() svymean(f_vars, des))
domain <- time_task(function() svyby(f_vars, ~region + group, des, svymean))
subpop <- time_task(function() svyby(f_vars, ~region, subset(des, migrant == 1), svymean))

pack <- function(run, estimates) {
  list(times = run$times, warmup = run$warmup, note = run$note, estimates = estimates)
}

out <- list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  n = nrow(d),
  design = pack(design_run, NULL),
  whole = pack(whole, long_svymean(whole$result)),
  domain = pack(domain, long_svyby(domain$result, c("region", "group"))),
  subpop_domain = pack(subpop, long_svyby(subpop$result, "region"))
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"), "\n")
