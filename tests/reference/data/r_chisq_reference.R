#!/usr/bin/env Rscript
# Tests of association in two-way tables (issue 18, item 3): R survey's svychisq() with the
# statistics "F" (Rao-Scott second order), "Chisq" (first order), "Wald", "adjWald", "lincom"
# and "saddlepoint" on the California API samples.
# Usage: Rscript r_chisq_reference.R [OUT_DIR]   (default: the folder of this script)
#
# Taylor designs (as r_api_reference.R): apistrat (strata, fpc), apiclus1 (clusters, fpc),
# apiclus2 (two stages, fpc at both). Replicate designs: JKn on apistrat, JK1 on apiclus1.
# Derived columns (the Python test makes the same ones):
#   k3    = "small" if acs.k3 <= 19, "large" otherwise, NA where acs.k3 is NA (missing values)
#   band  = cut(api00, c(0, 600, 700, 800, 1000), labels = c("a", "b", "c", "d"))  (3 x 4 table)
# Subpopulation: subset(des, api00 > 600).
# Beside svychisq's numbers: the weighted table svytable(), N (rows of the design) and the
# eigenvalues of the generalized design effect matrix Delta, computed as svychisq computes it.
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
this <- tryCatch(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))),
                 error = function(e) ".")
outdir <- if (length(args)) args[1] else this
data(api)
num <- function(x) unname(as.numeric(x))

derive <- function(d) {
  d$k3 <- factor(ifelse(is.na(d$acs.k3), NA, ifelse(d$acs.k3 <= 19, "small", "large")))
  d$band <- cut(d$api00, c(0, 600, 700, 800, 1000), labels = c("a", "b", "c", "d"))
  d
}
apistrat <- derive(apistrat); apiclus1 <- derive(apiclus1); apiclus2 <- derive(apiclus2)

designs <- list(
  apistrat_fpc = function() svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat),
  apiclus1_fpc = function() svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1),
  apiclus2_fpc2stage = function() svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
)
replicates <- list(
  apistrat_fpc_JKn = function() as.svrepdesign(designs$apistrat_fpc(), type = "JKn"),
  apiclus1_fpc_JK1 = function() as.svrepdesign(designs$apiclus1_fpc(), type = "JK1")
)

tables <- list(
  sch.wide_stype = ~sch.wide + stype,
  stype_awards = ~stype + awards,
  comp.imp_both = ~comp.imp + both,
  stype_band = ~stype + band,
  k3_sch.wide = ~k3 + sch.wide
)
statistics <- c("F", "Chisq", "Wald", "adjWald", "lincom", "saddlepoint")

# svychisq's Delta (the Rao-Scott generalized design effects), its own code.
delta_eigenvalues <- function(formula, des) {
  rows <- formula[[2]][[2]]; cols <- formula[[2]][[3]]
  nr <- length(na.omit(unique(des$variables[, as.character(rows)])))
  nc <- length(na.omit(unique(des$variables[, as.character(cols)])))
  fsat <- eval(bquote(~interaction(factor(.(rows)), factor(.(cols))) - 1))
  mm <- model.matrix(fsat, model.frame(fsat, des$variables, na.action = na.pass))
  N <- nrow(mm)
  mf1 <- expand.grid(rows = 1:nr, cols = 1:nc)
  X1 <- model.matrix(~factor(rows) + factor(cols), mf1)
  X12 <- model.matrix(~factor(rows) * factor(cols), mf1)
  mean2 <- svymean(mm, des, na.rm = TRUE)
  Cmat <- qr.resid(qr(X1), X12[, -(1:(nr + nc - 1)), drop = FALSE])
  iDmat <- diag(ifelse(mean2 == 0, 0, 1 / mean2))
  V <- attr(mean2, "var")
  Delta <- solve(t(Cmat) %*% (iDmat / N) %*% Cmat, t(Cmat) %*% iDmat %*% V %*% iDmat %*% Cmat)
  list(N = N, cells = num(coef(mean2)), eigenvalues = sort(Re(eigen(Delta, only.values = TRUE)$values),
                                                          decreasing = TRUE))
}

one_table <- function(formula, des) {
  out <- list()
  for (s in statistics) {
    t <- suppressWarnings(svychisq(formula, des, statistic = s))
    out[[s]] <- list(statistic = num(t$statistic), name = names(t$statistic),
                     parameter = as.list(t$parameter), p_value = num(t$p.value), method = t$method)
  }
  tab <- svytable(formula, des)
  out$table <- list(rows = rownames(tab), cols = colnames(tab),
                    counts = unname(lapply(seq_len(nrow(tab)), function(i) num(tab[i, ]))))
  out$delta <- delta_eigenvalues(formula, des)
  out
}

run <- function(des) {
  r <- list()
  for (nm in names(tables)) r[[nm]] <- one_table(tables[[nm]], des)
  r$subset_api00_gt600 <- list(stype_awards = one_table(~stype + awards, subset(des, api00 > 600)))
  r
}

res <- list()
for (nm in names(designs)) res[[nm]] <- run(designs[[nm]]())
for (nm in names(replicates)) res[[nm]] <- run(replicates[[nm]]())

meta <- list(R = R.version.string, survey = as.character(packageVersion("survey")),
             jsonlite = as.character(packageVersion("jsonlite")),
             files = c("apistrat.csv", "apiclus1.csv", "apiclus2.csv"),
             designs = c(lapply(designs, function(f) paste(deparse(body(f)), collapse = " ")),
                         lapply(replicates, function(f) paste(deparse(body(f)), collapse = " "))),
             tables = lapply(tables, function(f) paste(deparse(f), collapse = " ")),
             derived = c(k3 = "factor(ifelse(is.na(acs.k3), NA, ifelse(acs.k3 <= 19, 'small', 'large')))",
                         band = "cut(api00, c(0, 600, 700, 800, 1000), labels = c('a', 'b', 'c', 'd'))"),
             notes = c("results.<design>.<table>.<statistic> = svychisq(table, design, statistic)",
                       "subset_api00_gt600.stype_awards: svychisq(~stype + awards, subset(design, api00 > 600))",
                       "table: svytable(table, design) (weighted counts); delta: svychisq's N, svymean of the cells and eigenvalues of Delta",
                       "numbers printed with 15 significant digits (jsonlite digits=NA)"))
write(toJSON(list(meta = meta, results = res), digits = NA, na = "null", auto_unbox = TRUE, pretty = TRUE),
      file.path(outdir, "chisq_reference.json"))
message("wrote ", file.path(outdir, "chisq_reference.json"))
