# R survey side of benchmarks/bench_models.py.
#
#   Rscript benchmarks/bench_models_r.R DATA.csv REPS BUDGET_SECONDS
#
# Reads the CSV (design, outcome, covariate and table columns; not timed), then system.time()
# times only the design declaration and the two tasks of bench_models.py:
#
#   svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d)
#   svyglm(y9 ~ factor(region) + factor(group) + migrant + age + x + y0 + y1 + y2 + y3 + y4,
#          des, family = quasibinomial(), control = glm.control(epsilon = 1e-12, maxit = 100))
#   svychisq(~region + group, des, statistic = "F")
#
# The GLM runs to the same convergence rule as flestimate's (R's deviance rule with epsilon
# 1e-12; R's default 1e-8 stops one or two iterations earlier and its SEs then differ from the
# converged ones by about 1e-6). It prints one JSON document on stdout: per task the elapsed
# seconds of each timed run, the warm-up run, a note, and the coefficients and SEs (the test's
# statistic, df and p-value) for the agreement check. Each task is run once to warm up, then up
# to REPS times while the runs fit in BUDGET_SECONDS.

suppressPackageStartupMessages({
  library(survey)
  library(data.table)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: bench_models_r.R DATA.csv REPS BUDGET_SECONDS")
path <- args[1]
reps <- as.integer(args[2])
budget <- as.numeric(args[3])

options(survey.lonely.psu = "fail")
d <- fread(path, data.table = FALSE)

elapsed <- function(expr) system.time(expr)[["elapsed"]]

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

design_run <- time_task(function() {
  svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d)
})
des <- design_run$result

f <- y9 ~ factor(region) + factor(group) + migrant + age + x + y0 + y1 + y2 + y3 + y4
glm_run <- time_task(function() {
  svyglm(f, des, family = quasibinomial(),
         control = glm.control(epsilon = 1e-12, maxit = 100))
})
chisq_run <- time_task(function() svychisq(~region + group, des, statistic = "F"))

m <- glm_run$result
test <- chisq_run$result
pack <- function(run, estimates) {
  list(times = run$times, warmup = run$warmup, note = run$note, estimates = estimates)
}
out <- list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  n = nrow(d),
  design = pack(design_run, NULL),
  glm = pack(glm_run, list(term = names(coef(m)), estimate = unname(coef(m)),
                           se = unname(SE(m)), iterations = m$iter)),
  chisq = pack(chisq_run, list(value = unname(test$statistic),
                               ndf = unname(test$parameter[1]),
                               ddf = unname(test$parameter[2]),
                               p_value = test$p.value))
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"), "\n")
