# R survey side of benchmarks/bench_replicate.py.
#
#   Rscript benchmarks/bench_replicate_r.R DATA.csv REPWEIGHTS.bin N_REPLICATES REPS BUDGET_SECONDS
#
# Reads the CSV (the design, outcome and domain columns) and the replicate weights, a raw file of
# little-endian float64 written column after column (bw1 for every row, then bw2, ...), exact to
# the last bit and far quicker to read than 200 columns of CSV text. Reading is not timed. The
# replicate weights become the columns bw1..bwR of the data frame, then system.time() times only
# the design declaration and the three estimation tasks of bench_replicate.py:
#
#   svrepdesign(data = d, repweights = "bw[0-9]+", weights = ~w, type = "bootstrap",
#               combined.weights = TRUE)           # scale 1/(R-1), R's default for "bootstrap"
#   svymean(~y0 + ... + y9, des)
#   svyby(~y0 + ... + y9, ~region + group, des, svymean)
#   svyby(~y0 + ... + y9, ~region, subset(des, migrant == 1), svymean)
#
# and prints one JSON document on stdout, as bench_r.R does: per task the elapsed seconds of each
# timed run, the warm-up run, a note, and the estimates and standard errors for the agreement
# check. Each task is run once to warm up, then up to REPS times while the runs fit in
# BUDGET_SECONDS; a task whose warm-up run alone exceeds the budget is not repeated.

suppressPackageStartupMessages({
  library(survey)
  library(data.table)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 5) {
  stop("usage: bench_replicate_r.R DATA.csv REPWEIGHTS.bin N_REPLICATES REPS BUDGET_SECONDS")
}
path <- args[1]
rep_path <- args[2]
n_rep <- as.integer(args[3])
reps <- as.integer(args[4])
budget <- as.numeric(args[5])

d <- fread(path, data.table = FALSE)
n <- nrow(d)
con <- file(rep_path, "rb")
rw <- readBin(con, what = "double", n = as.double(n) * n_rep, size = 8, endian = "little")
close(con)
if (length(rw) != as.double(n) * n_rep) stop("replicate weight file is too short")
dim(rw) <- c(n, n_rep)
rep_names <- paste0("bw", seq_len(n_rep))
for (j in seq_len(n_rep)) d[[rep_names[j]]] <- rw[, j]
rm(rw)
invisible(gc())

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
  n_run <- max(1L, min(reps, as.integer(floor(budget / max(warm, 1e-3)))))
  times <- numeric(n_run)
  for (i in seq_len(n_run)) {
    invisible(gc())
    times[i] <- elapsed(result <- fun())
  }
  note <- if (n_run < reps) sprintf("%d of %d runs (time budget %.0f s)", n_run, reps, budget) else ""
  list(times = times, warmup = warm, result = result, note = note)
}

# SE() of a replicate svymean is unnamed: it is in the order of coef().
long_svymean <- function(res) {
  stopifnot(identical(names(coef(res)), vars))
  data.frame(variable = vars, estimate = unname(coef(res)),
             se = unname(SE(res)), stringsAsFactors = FALSE)
}

# svyby on a replicate design names the standard error columns se1, se2, ... (not se.y0, ...):
# they are the columns after the by and estimate columns, in the order of the variables.
long_svyby <- function(res, by) {
  res <- as.data.frame(res)
  se_cols <- setdiff(names(res), c(by, vars))
  stopifnot(length(se_cols) == length(vars))
  out <- lapply(seq_along(vars), function(j) {
    cells <- res[, by, drop = FALSE]
    cbind(cells, data.frame(variable = vars[j], estimate = res[[vars[j]]],
                            se = res[[se_cols[j]]], stringsAsFactors = FALSE))
  })
  do.call(rbind, out)
}

design_run <- time_task(function() {
  svrepdesign(data = d, repweights = "bw[0-9]+", weights = ~w, type = "bootstrap",
              combined.weights = TRUE)
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
  n = n,
  replicates = ncol(des$repweights),
  scale = des$scale,
  design = pack(design_run, NULL),
  whole = pack(whole, long_svymean(whole$result)),
  domain = pack(domain, long_svyby(domain$result, c("region", "group"))),
  subpop_domain = pack(subpop, long_svyby(subpop$result, "region"))
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"), "\n")
