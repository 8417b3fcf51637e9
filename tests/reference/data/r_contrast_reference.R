#!/usr/bin/env Rscript
# Covariances and contrasts of estimates (issue 18, items 1-2): R survey's vcov(svymean(...)),
# vcov(svyby(..., covmat=TRUE)) and svycontrast() on the California API samples.
# Usage: Rscript r_contrast_reference.R [OUT_DIR]   (default: the folder of this script)
#
# Taylor designs (as r_api_reference.R): apistrat (strata, fpc), apiclus1 (clusters, fpc),
# apiclus2 (two stages, fpc at both). Replicate designs: JKn on apistrat, JK1 on apiclus1.
#
# Between domains: vcov(svyby(..., covmat=TRUE)) (survey's order: domains within variable), and
# the same matrix computed a second way, with R's own svyrecvar() on the matrix of the domain
# means' influence functions (zero outside the domain; order: variables within domain); and
# svyglm(): the coefficient of a domain dummy in a saturated model is a difference of domain
# means and its SE the SE of that difference.
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
this <- tryCatch(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))),
                 error = function(e) ".")
outdir <- if (length(args)) args[1] else this
data(api)
num <- function(x) unname(as.numeric(x))
mat <- function(m) unname(lapply(seq_len(nrow(m)), function(i) num(m[i, ])))

designs <- list(
  apistrat_fpc = function() svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat),
  apiclus1_fpc = function() svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1),
  apiclus2_fpc2stage = function() svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
)

# Influence functions of the domain means of y (rows: every row of the design; columns: domain
# x variable, in svyby's order: variables within domain), then svyrecvar on the whole design.
domain_covariance <- function(des, vars, by) {
  w <- weights(des)
  dom <- factor(des$variables[[by]])
  cols <- list()
  for (d in levels(dom)) for (v in vars) {
    y <- des$variables[[v]]
    inside <- dom == d & w > 0
    ybar <- sum(w[inside] * y[inside]) / sum(w[inside])
    cols[[paste(d, v)]] <- ifelse(inside, w * (y - ybar) / sum(w[inside]), 0)
  }
  infl <- do.call(cbind, cols)
  svyrecvar(infl, des$cluster, des$strata, des$fpc, postStrata = des$postStrata)
}

taylor <- function(des) {
  r <- list()
  m <- svymean(~api00 + api99, des)
  r$mean_vcov <- mat(vcov(m))
  r$total_vcov <- mat(vcov(svytotal(~api00 + api.stu, des)))
  r$stype_mean_vcov <- mat(vcov(svymean(~stype, des)))
  r$contrast_linear <- list(est = num(coef(svycontrast(m, c(api00 = 1, api99 = -1)))),
                            se = num(SE(svycontrast(m, c(api00 = 1, api99 = -1)))))
  nl <- svycontrast(m, quote(api00 / api99))
  r$contrast_ratio <- list(est = num(coef(nl)), se = num(SE(nl)))
  nl2 <- svycontrast(m, quote(log(api00) - log(api99)))
  r$contrast_logratio <- list(est = num(coef(nl2)), se = num(SE(nl2)))
  by <- svyby(~api00 + api99, ~stype, des, svymean, covmat = TRUE)
  r$by_vcov <- mat(vcov(by))  # domains within variable
  r$by_full_vcov <- mat(domain_covariance(des, c("api00", "api99"), "stype"))
  g <- svyglm(api00 ~ stype, des)
  r$glm_domain_difference <- list(names = names(coef(g)), est = num(coef(g)), se = num(SE(g)))
  r$by_coef <- num(coef(by))
  r
}

replicate <- function(rd) {
  r <- list()
  by <- svyby(~api00 + api99, ~stype, rd, svymean, covmat = TRUE)
  r$by_coef <- num(coef(by))
  r$by_full_vcov <- mat(vcov(by))
  d <- svycontrast(by, c("E:api00" = 1, "H:api00" = -1))
  r$contrast_domains <- list(est = num(coef(d)), se = num(SE(d)))
  q <- svycontrast(by, quote(`E:api00` / `M:api00`))
  r$contrast_domain_ratio <- list(est = num(coef(q)), se = num(SE(q)))
  m <- svymean(~api00 + api99, rd)
  r$mean_vcov <- mat(vcov(m))
  r
}

res <- list()
for (nm in names(designs)) res[[nm]] <- taylor(designs[[nm]]())
res$apistrat_fpc_JKn <- replicate(as.svrepdesign(designs$apistrat_fpc(), type = "JKn"))
res$apiclus1_fpc_JK1 <- replicate(as.svrepdesign(designs$apiclus1_fpc(), type = "JK1"))

meta <- list(R = R.version.string, survey = as.character(packageVersion("survey")),
             jsonlite = as.character(packageVersion("jsonlite")),
             files = c("apistrat.csv", "apiclus1.csv", "apiclus2.csv"),
             designs = lapply(designs, function(f) paste(deparse(body(f)), collapse = " ")),
             order = c("by_coef, by_vcov (svyby): domains (E, H, M) within variable (api00, api99)",
                       "by_full_vcov of Taylor designs: variables within domain"),
             notes = c("by_full_vcov of Taylor designs: svyrecvar() on the domain means' influence functions",
                       "numbers printed with 15 significant digits (jsonlite digits=NA)"))
write(toJSON(list(meta = meta, results = res), digits = NA, na = "null", auto_unbox = TRUE, pretty = TRUE),
      file.path(outdir, "contrast_reference.json"))
message("wrote ", file.path(outdir, "contrast_reference.json"))
