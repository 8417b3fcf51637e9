# Reference values of Rubin's rules: R mitools::MIcombine on five completed-data estimates of
# three quantities with their variances, with an infinite and a finite complete-data df.
# Run from this folder:  Rscript mitools_micombine.R > mitools_micombine.json
suppressMessages(library(mitools))
est <- list(c(0.041, 0.012, 0.90), c(0.044, 0.015, 0.88), c(0.043, 0.011, 0.93),
            c(0.047, 0.014, 0.85), c(0.040, 0.013, 0.91))
var <- list(diag(c(1.6e-5, 4.1e-6, 2.5e-3)), diag(c(1.7e-5, 4.6e-6, 2.9e-3)),
            diag(c(1.5e-5, 3.9e-6, 2.2e-3)), diag(c(1.8e-5, 4.4e-6, 3.1e-3)),
            diag(c(1.6e-5, 4.2e-6, 2.6e-3)))
out <- list()
for (dfc in list(Inf, 40)) {
  fit <- MIcombine(est, var, df.complete = dfc)
  out[[length(out) + 1]] <- list(df_complete = if (is.finite(dfc)) dfc else "Inf",
                                  estimate = unname(coef(fit)),
                                  variance = unname(diag(vcov(fit))),
                                  df = unname(fit$df), missinfo = unname(fit$missinfo))
}
cat(jsonlite::toJSON(list(call = "mitools::MIcombine(results, variances, df.complete)",
                          mitools = as.character(packageVersion("mitools")),
                          R = R.version.string,
                          estimates = lapply(est, identity),
                          variances = lapply(var, diag), results = out),
                     digits = 17, auto_unbox = TRUE, pretty = TRUE))
