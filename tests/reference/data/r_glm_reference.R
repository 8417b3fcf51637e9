#!/usr/bin/env Rscript
# Survey-weighted GLMs on the California API samples (R survey 4.1.1), the reference of
# tests/test_models.py. Usage: Rscript r_glm_reference.R [OUT_JSON]
#   (default: glm_reference.json beside this file)
#
# Designs (as in r_api_reference.R):
#   apistrat  svydesign(id=~1, strata=~stype, weights=~pw, fpc=~fpc)
#   apiclus1  svydesign(id=~dnum, weights=~pw, fpc=~fpc)
#   apiclus2  svydesign(id=~dnum+snum, fpc=~fpc1+fpc2)
#   apiclus1_jk1  as.svrepdesign(apiclus1, type="JK1")
#   apistrat_jkn  as.svrepdesign(apistrat, type="JKn")
#   lfs_taylor, lfs_bootstrap  the synthetic LFS (data/synthetic/lfs_n20000.csv.gz), see the end
# Models: every fit with control = glm.control(epsilon = 1e-20, maxit = 60): the IRLS runs its
# 60 iterations (R warns that it did not converge), so that R's coefficients, replicate refits
# and the working weights of its sandwich (glm.fit keeps those of the last-but-one iterate) are
# converged to rounding; with the default epsilon = 1e-8 R's SEs of a logistic model differ from
# the converged sandwich by about 1e-6 relative.
#   gaussian  svyglm(api00 ~ ell + meals + mobility, des)
#   binomial  svyglm(I(sch.wide == "Yes") ~ ell + meals + stype, des, family = quasibinomial())
#   poisson   svyglm(enroll ~ meals, des, family = quasipoisson())   (apiclus2: 6 enroll NA)
#   subpop    svyglm(api00 ~ ell + meals, subset(des, stype != "E"))
#   intercept svyglm(api00 ~ 1, des) and svymean(~api00, des)
# with summary() (coef, SE, t, p, df.residual, dispersion), vcov(), confint(),
# predict(binomial, newdata, type = "link" | "response"), predict(gaussian) on the first rows,
# regTermTest(binomial, ~stype), regTermTest(gaussian, ~ell + meals) (Wald), and
# svyttest(api00 ~ awards, des).
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
this <- tryCatch(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))),
                 error = function(e) ".")
out <- if (length(args)) args[1] else file.path(this, "glm_reference.json")
data(api)
ctl <- glm.control(epsilon = 1e-20, maxit = 60)
num <- function(x) unname(as.numeric(x))
vec <- function(x) I(unname(as.numeric(x)))  # a JSON array even of length 1

model <- function(m) {
  s <- summary(m)
  cf <- s$coefficients
  ci <- confint(m)
  list(terms = I(rownames(cf)), est = vec(cf[, 1]), se = vec(cf[, 2]), t = vec(cf[, 3]),
       p = vec(cf[, 4]), lci = vec(ci[, 1]), uci = vec(ci[, 2]), df = num(m$df.residual),
       dispersion = num(s$dispersion), vcov = unname(as.matrix(vcov(m))))
}
pred <- function(m, newdata, type) {
  p <- predict(m, newdata = newdata, type = type)
  # as.numeric and the "var" attribute: coef() of a replicate fit's predictions keeps only one
  list(est = vec(p), se = vec(sqrt(attr(p, "var"))))
}
rtt <- function(m, f) {
  r <- regTermTest(m, f, method = "Wald")
  list(F = num(r$Ftest), df = num(r$df), ddf = num(r$ddf), p = num(r$p))
}
newdata <- data.frame(ell = c(10, 30, 55), meals = c(20, 60, 90),
                      stype = factor(c("E", "H", "M"), levels = levels(apistrat$stype)))

battery <- function(des) {
  r <- list()
  g <- svyglm(api00 ~ ell + meals + mobility, des, control = ctl)
  b <- svyglm(I(sch.wide == "Yes") ~ ell + meals + stype, des, family = quasibinomial(),
              control = ctl)
  r$gaussian <- model(g)
  r$binomial <- model(b)
  r$poisson <- model(svyglm(enroll ~ meals, des, family = quasipoisson(), control = ctl))
  r$subpop <- model(svyglm(api00 ~ ell + meals, subset(des, stype != "E"), control = ctl))
  r$intercept <- model(svyglm(api00 ~ 1, des, control = ctl))
  mn <- svymean(~api00, des)
  r$mean_api00 <- list(est = num(coef(mn)), se = num(SE(mn)))
  r$predict_link <- pred(b, newdata, "link")
  r$predict_response <- pred(b, newdata, "response")
  first <- model.frame(des)[1:5, ]
  r$predict_gaussian_first5 <- pred(g, first, "link")
  r$wald_stype <- rtt(b, ~stype)
  r$wald_ell_meals <- rtt(g, ~ell + meals)
  tt <- svyttest(api00 ~ awards, des)
  r$ttest <- list(est = num(tt$estimate), t = num(tt$statistic), df = num(tt$parameter),
                  p = num(tt$p.value), lci = num(tt$conf.int[1]), uci = num(tt$conf.int[2]))
  r$degf <- degf(des)
  r
}

strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
clus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
clus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
designs <- list(
  apistrat = strat, apiclus1 = clus1, apiclus2 = clus2,
  apiclus1_jk1 = as.svrepdesign(clus1, type = "JK1"),
  apistrat_jkn = as.svrepdesign(strat, type = "JKn")
)
results <- suppressWarnings(lapply(designs, battery))  # the IRLS warnings of maxit

# The synthetic LFS (data/synthetic/lfs_n20000.csv.gz = tests/reference/data/lfs_n20000.parquet):
# svyglm(migrant ~ age + sex + urban) and svyglm(fl ~ age + sex + urban, subset(des, migrant == 1)),
# quasibinomial, on the Taylor design and on its 100 bootstrap replicate columns.
lfs_file <- file.path(this, "..", "..", "..", "data", "synthetic", "lfs_n20000.csv.gz")
lfs <- as.data.frame(data.table::fread(lfs_file, showProgress = FALSE))
lfs_designs <- list(
  lfs_taylor = svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest = TRUE, data = lfs),
  lfs_bootstrap = svrepdesign(data = lfs, repweights = "^bw[0-9]+$", weights = ~w,
                              type = "bootstrap", combined.weights = TRUE, mse = FALSE))
lfs_battery <- function(des) {
  suppressWarnings(list(
    migrant = model(svyglm(migrant ~ age + sex + urban, des, family = quasibinomial(),
                           control = ctl)),
    fl_migrants = model(svyglm(fl ~ age + sex + urban, subset(des, migrant == 1),
                               family = quasibinomial(), control = ctl))))
}
results <- c(results, lapply(lfs_designs, lfs_battery))
meta <- list(R = R.version.string, survey = as.character(packageVersion("survey")),
             jsonlite = as.character(packageVersion("jsonlite")),
             newdata = newdata, control = "glm.control(epsilon = 1e-20, maxit = 60)")
write(toJSON(list(meta = meta, results = results), digits = NA, auto_unbox = TRUE,
             pretty = TRUE, na = "null"), out)
