#!/usr/bin/env Rscript
# Survey quantiles: reference ("oracle") results from R's survey package (svyquantile, 4.x).
#
# Usage (from the repository root):  Rscript tests/reference/data/r_quantile_reference.R [DIR]
#   DIR defaults to the folder of this script. Reads apistrat.csv, apiclus1.csv, apiclus2.csv
#   and the replicate weights apiclus1_jk1_repw.csv, apiclus1_bootstrap50_repw.csv from DIR;
#   writes DIR/quantile_reference.json. Deterministic (no random numbers).
#
# JSON: meta (versions, designs' code, probabilities), results.<design>:
#   degf; qrule.<rule> (api00, interval.type "mean");  interval.<type> (api00, qrule "math");
#   enroll (na.rm = TRUE); level90 (alpha = 0.1); subpop_awards (subset(d, awards == "Yes"));
#   by_stype.<rule> and by_stype_interval.<type>: svyby(~api00, ~stype, d, svyquantile, ...)
#   as {<domain>: {est, se, lci, uci}}. Each leaf {est, se, lci, uci} has one value per
#   probability in meta$q; null where R gives NA/NaN.
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
options(survey.lonely.psu = "fail", survey.replicates.mse = FALSE, survey.ultimate.cluster = FALSE,
        survey.adjust.domain.lonely = FALSE, survey.drop.replicates = TRUE)

args <- commandArgs(trailingOnly = TRUE)
this <- tryCatch(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))),
                 error = function(e) ".")
if (!length(this) || !nzchar(this)) this <- "."
dir <- if (length(args)) args[1] else this
rd <- function(f) read.csv(file.path(dir, f), stringsAsFactors = FALSE)

apistrat <- rd("apistrat.csv")
apiclus1 <- rd("apiclus1.csv")
apiclus2 <- rd("apiclus2.csv")
# The replicate columns as multipliers rw_j / w (combined.weights = FALSE): R's analysis
# weights are then w * multiplier, the same double products as flestimate's, so a quantile
# whose probability falls exactly on a cumulative weight is decided on identical numbers.
with_w <- function(data, wfile) {
  w <- rd(wfile)
  stopifnot(identical(w$snum, data$snum))
  out <- cbind(data, w[, -1])
  for (j in grep("^rw[0-9]+$", names(out))) out[[j]] <- out[[j]] / out$w
  out
}
defs <- list(
  apistrat = 'svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)',
  apiclus1 = 'svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)',
  apiclus2 = 'svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)',
  apiclus1_jk1 = paste0('svrepdesign(data = with_w(apiclus1, "apiclus1_jk1_repw.csv"), repweights = "^rw[0-9]+$", ',
                        'weights = ~w, type = "JK1", combined.weights = FALSE)'),
  apiclus1_bootstrap50 = paste0('svrepdesign(data = with_w(apiclus1, "apiclus1_bootstrap50_repw.csv"), ',
                                'repweights = "^rw[0-9]+$", weights = ~w, type = "bootstrap", combined.weights = FALSE)')
)
Q <- c(0.1, 0.25, 0.5, 0.75, 0.9)
RULES <- c("math", "school", "shahvaish", paste0("hf", 1:9))
num <- function(v) { v <- as.numeric(v); v[is.nan(v)] <- NA; v }

leaf <- function(r) {  # one variable of a newsvyquantile
  m <- r[[1]]
  list(est = num(m[, 1]), lci = num(m[, 2]), uci = num(m[, 3]), se = num(m[, 4]))
}
by_leaf <- function(b) {  # svyby(..., vartype = c("se", "ci")) of one variable
  nq <- length(Q)
  out <- list()
  for (i in seq_len(nrow(b))) {
    row <- unlist(b[i, -1])
    out[[as.character(b[i, 1])]] <- list(est = num(row[seq_len(nq)]), se = num(row[nq + seq_len(nq)]),
                                        lci = num(row[2 * nq + seq_len(nq)]),
                                        uci = num(row[3 * nq + seq_len(nq)]))
  }
  out
}
quiet <- function(expr) suppressWarnings(suppressMessages(expr))

battery <- function(d, types) {
  res <- list(degf = degf(d))
  for (rule in RULES) res$qrule[[rule]] <- leaf(svyquantile(~api00, d, Q, qrule = rule, ci = TRUE))
  for (type in types)
    res$interval[[type]] <- leaf(quiet(svyquantile(~api00, d, Q, interval.type = type, ci = TRUE)))
  res$enroll <- leaf(svyquantile(~enroll, d, Q, ci = TRUE, na.rm = TRUE))
  res$level90 <- leaf(svyquantile(~api00, d, Q, ci = TRUE, alpha = 0.1))
  res$subpop_awards <- leaf(svyquantile(~api00, subset(d, awards == "Yes"), Q, ci = TRUE))
  for (rule in RULES)
    res$by_stype[[rule]] <- by_leaf(svyby(~api00, ~stype, d, svyquantile, quantiles = Q, qrule = rule,
                                          ci = TRUE, vartype = c("se", "ci")))
  for (type in types)
    res$by_stype_interval[[type]] <- by_leaf(quiet(svyby(~api00, ~stype, d, svyquantile, quantiles = Q,
                                                         interval.type = type, ci = TRUE,
                                                         vartype = c("se", "ci"))))
  res
}

results <- list()
for (name in names(defs)) {
  d <- eval(parse(text = defs[[name]]))
  # svyquantile.svyrep.design calls woodruffCI without its method: beta, xlogit and asin
  # give the "mean" interval there, so replicate designs have only "mean" and "quantile".
  types <- if (inherits(d, "svyrep.design")) c("mean", "quantile") else c("mean", "beta", "xlogit", "asin")
  results[[name]] <- battery(d, types)
}
meta <- list(r = R.version.string, survey = as.character(packageVersion("survey")),
             jsonlite = as.character(packageVersion("jsonlite")), q = Q, defs = defs,
             calls = list(estimate = 'svyquantile(~api00, d, Q, qrule = rule, interval.type = type, ci = TRUE)',
                          by = 'svyby(~api00, ~stype, d, svyquantile, quantiles = Q, qrule = rule, interval.type = type, ci = TRUE, vartype = c("se", "ci"))',
                          subpop = 'svyquantile(~api00, subset(d, awards == "Yes"), Q, ci = TRUE)',
                          enroll = 'svyquantile(~enroll, d, Q, ci = TRUE, na.rm = TRUE)',
                          level90 = 'svyquantile(~api00, d, Q, ci = TRUE, alpha = 0.1)'),
             notes = 'replicate designs: interval.type "mean" and "quantile" only (svyquantile.svyrep.design ignores beta, xlogit, asin: it calls woodruffCI without the method)')
writeLines(toJSON(list(meta = meta, results = results), auto_unbox = TRUE, digits = NA, na = "null",
                  pretty = TRUE), file.path(dir, "quantile_reference.json"))
