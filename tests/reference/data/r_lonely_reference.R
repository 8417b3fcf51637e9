#!/usr/bin/env Rscript
# Lonely-PSU reference results from R survey on lonely.csv (strata 1 and 2 have one PSU each;
# stratum 6 has domain "b" in one PSU only). Usage: Rscript r_lonely_reference.R [DIR]
# For each survey.lonely.psu in remove, certainty, adjust, average and each
# survey.adjust.domain.lonely in FALSE, TRUE:
#   des <- svydesign(ids=~psu, strata=~stratum, weights=~w, data=d)
#   svymean(~y+z, des); svytotal(~y+z, des); svyby(~y+z, ~dom, des, svymean)
# and, with lonely.psu="fail", the certainty design where stratum 2 has fpc = 1 (all sampled):
#   svydesign(ids=~psu, strata=~stratum, weights=~w, fpc=~fpc, data=d[d$stratum != 1, ])
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args)) args[1] else "."
d <- read.csv(file.path(dir, "lonely.csv"))
num <- function(x) unname(as.numeric(x))
st <- function(x) list(est = num(coef(x)), se = num(SE(x)))
byl <- function(x) {
  df <- as.data.frame(x)
  out <- list()
  for (i in seq_len(nrow(df))) out[[as.character(df[i, 1])]] <- list(
    est = num(df[i, c("y", "z")]), se = num(df[i, c("se.y", "se.z")]))
  out
}
res <- list()
for (rule in c("remove", "certainty", "adjust", "average")) {
  for (dl in c(FALSE, TRUE)) {
    options(survey.lonely.psu = rule, survey.adjust.domain.lonely = dl)
    des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d)
    key <- paste0(rule, if (dl) "_domainlonely" else "")
    res[[key]] <- suppressWarnings(list(
      mean = st(svymean(~y + z, des)), total = st(svytotal(~y + z, des)),
      by_dom = byl(svyby(~y + z, ~dom, des, svymean))))
  }
}
options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE)
dc <- d[d$stratum != 1, ]
desc <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, fpc = ~fpc, data = dc)
res$certainty_fpc <- list(mean = st(svymean(~y + z, desc)), total = st(svytotal(~y + z, desc)))
meta <- list(R = R.version.string, survey = as.character(packageVersion("survey")),
             data = "lonely.csv")
write(toJSON(list(meta = meta, results = res), digits = NA, auto_unbox = TRUE, pretty = TRUE),
      file.path(dir, "lonely_reference.json"))
