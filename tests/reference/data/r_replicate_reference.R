#!/usr/bin/env Rscript
# Replicate-weight designs and calibration: reference ("oracle") results from R's survey package.
#
# Usage (from the repository root):  Rscript tests/reference/data/r_replicate_reference.R [DIR]
#   DIR defaults to the folder of this script. Reads apiclus1.csv, apiclus2.csv, apistrat.csv from
#   DIR (checked against data(api)), apipop from data(api) for population totals, and the synthetic
#   LFS sample lfs_n20000.csv.gz (DIR, else data/synthetic/ of the repository). Writes into DIR:
#   replicate_reference.json and the CSV files listed in its meta$files (replicate weights as full
#   analysis weights, the pseudo-paired BRR data, calibrated weights). Deterministic: the random
#   bootstrap replicates are drawn after set.seed(20261129) (default RNGkind) and written to CSV.
#
# JSON: results.<design>.<statistic>; see README.md ("Replicate designs and calibration").
suppressPackageStartupMessages({ library(survey); library(jsonlite); library(data.table) })
options(survey.lonely.psu = "fail", survey.replicates.mse = FALSE, survey.ultimate.cluster = FALSE,
        survey.adjust.domain.lonely = FALSE, survey.drop.replicates = TRUE)
SEED <- 20261129L

args <- commandArgs(trailingOnly = TRUE)
this <- tryCatch(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))),
                 error = function(e) ".")
if (!length(this) || !nzchar(this)) this <- "."
dir <- if (length(args)) args[1] else this

files <- list()  # meta$files: name -> {bytes, md5, rows, cols, what}
note_file <- function(name, what, rows, cols) {
  p <- file.path(dir, name)
  files[[name]] <<- list(what = what, rows = rows, cols = cols, bytes = unname(file.size(p)),
                         md5 = unname(tools::md5sum(p)))
}
# write a data frame (15 significant digits, write.csv); gzip when larger than 300 KB
write_csv_small <- function(df, stem, what) {
  p <- file.path(dir, paste0(stem, ".csv"))
  pg <- paste0(p, ".gz")
  if (file.exists(pg)) file.remove(pg)
  write.csv(df, p, row.names = FALSE)
  name <- basename(p)
  if (file.size(p) > 300e3) {
    file.remove(p)
    con <- gzfile(pg, "w")
    write.csv(df, con, row.names = FALSE)
    close(con)
    name <- basename(pg)
  }
  note_file(name, what, nrow(df), ncol(df))
  name
}
read_back <- function(name) read.csv(file.path(dir, name), stringsAsFactors = FALSE)

# ---- data ------------------------------------------------------------------------------------
rd_api <- function(f) read.csv(file.path(dir, f), stringsAsFactors = FALSE)
apistrat <- rd_api("apistrat.csv")
apiclus1 <- rd_api("apiclus1.csv")
apiclus2 <- rd_api("apiclus2.csv")
E <- new.env()
data(api, envir = E)
for (nm in c("apistrat", "apiclus1", "apiclus2")) {
  a <- get(nm); b <- get(nm, envir = E)
  for (v in c("snum", "dnum", "pw", "api00", "api99", "enroll")) stopifnot(isTRUE(all.equal(a[[v]], b[[v]])))
  stopifnot(identical(a$stype, as.character(b$stype)), identical(a$sch.wide, as.character(b$sch.wide)),
            identical(a$awards, as.character(b$awards)))
}
apipop <- E$apipop
pop_N <- nrow(apipop)
pop_stype <- c(`(Intercept)` = pop_N, stypeH = sum(apipop$stype == "H"), stypeM = sum(apipop$stype == "M"))
pop_api99 <- sum(apipop$api99)
pop_schwide_yes <- sum(apipop$sch.wide == "Yes")
stopifnot(all(pop_stype == c(6194, 755, 1018)), pop_api99 == 3914069, pop_schwide_yes == 5122)
pop_stype_df <- data.frame(stype = c("E", "H", "M"), Freq = as.vector(table(apipop$stype)[c("E", "H", "M")]))
pop_schwide_df <- data.frame(sch.wide = c("No", "Yes"), Freq = as.vector(table(apipop$sch.wide)[c("No", "Yes")]))

lfs_candidates <- c(file.path(dir, "lfs_n20000.csv.gz"), file.path(dir, "..", "..", "..", "data", "synthetic", "lfs_n20000.csv.gz"),
                    file.path("data", "synthetic", "lfs_n20000.csv.gz"))
lfs_path <- lfs_candidates[file.exists(lfs_candidates)][1]
if (is.na(lfs_path)) stop("lfs_n20000.csv.gz not found")
lfs <- as.data.frame(fread(lfs_path, showProgress = FALSE))

# ---- converters ------------------------------------------------------------------------------
num <- function(x) unname(as.numeric(x))
st <- function(x) list(est = num(coef(x)), se = num(SE(x)))
cip <- function(x) {
  ci <- attr(x, "ci")
  list(est = num(coef(x)), se = num(SE(x)), lci = num(ci[1]), uci = num(ci[2]))
}
byl1 <- function(x) {  # single outcome: level -> {est, se}
  df <- as.data.frame(x)
  se_col <- grep("^se", names(df), value = TRUE)[1]
  out <- list()
  for (i in seq_len(nrow(df))) out[[as.character(df[i, 1])]] <- list(est = num(df[i, 2]), se = num(df[i, se_col]))
  out
}
stat_list <- function(x) {  # several outcomes: var -> {est, se}
  cf <- coef(x); se <- SE(x); out <- list()
  for (j in seq_along(cf)) out[[names(cf)[j]]] <- list(est = num(cf[j]), se = num(se[j]))
  out
}
by_list <- function(x, vars) {  # level -> var -> {est, se}
  # se columns are named se.<var> for Taylor designs but se1, se2, ... for replicate designs: use positions
  df <- as.data.frame(x); out <- list()
  k <- length(vars)
  stopifnot(identical(names(df)[2:(k + 1)], vars), ncol(df) == 2 * k + 1)
  for (r in seq_len(nrow(df))) {
    e <- list()
    for (i in seq_len(k)) e[[vars[i]]] <- list(est = num(df[r, 1 + i]), se = num(df[r, 1 + k + i]))
    out[[as.character(df[r, 1])]] <- e
  }
  out
}
STATW <- character(0)  # warnings raised while computing statistics (collected per battery)
safe <- function(expr) tryCatch(withCallingHandlers(expr, warning = function(w) {
  STATW <<- c(STATW, conditionMessage(w)); invokeRestart("muffleWarning")
}), error = function(e) list(error = conditionMessage(e)))
# evaluate a design-building call, keep its code text and warnings
mk <- function(expr) {
  code <- paste(deparse(substitute(expr), width.cutoff = 500L), collapse = " ")
  W <- character(0)
  d <- withCallingHandlers(expr, warning = function(w) {
    W <<- c(W, conditionMessage(w)); invokeRestart("muffleWarning")
  })
  list(d = d, code = code, warnings = W)
}
rsc <- function(r) {
  r <- num(r)
  list(rscales = if (length(r) <= 60) r else r[1:5], rscales_n = length(r), rscales_unique = sort(unique(r)))
}
repinfo <- function(m, base = NULL) {
  d <- m$d
  c(list(call = m$code, base = base, r_call = paste(deparse(d$call, width.cutoff = 500L), collapse = " "),
         type = d$type, rho = if (is.null(d$rho)) NULL else num(d$rho), combined_weights = d$combined.weights,
         scale = num(d$scale)),
    rsc(d$rscales),
    list(mse = if (is.null(d$mse)) NULL else d$mse, n_reps = ncol(weights(d, "analysis")), degf = degf(d),
         n = nrow(d), sum_weights = sum(weights(d, "sampling")), warnings = m$warnings))
}
taylorinfo <- function(m, base = NULL) {
  d <- m$d
  list(call = m$code, base = base, r_call = paste(deparse(d$call, width.cutoff = 500L), collapse = " "),
       degf = degf(d), n = nrow(d), sum_weights = sum(weights(d)), warnings = m$warnings)
}
api_battery <- function(d) {
  STATW <<- character(0)
  r <- list()
  r$mean_api00 <- safe(st(svymean(~api00, d)))
  r$total_enroll <- safe(st(svytotal(~enroll, d, na.rm = TRUE)))
  r$mean_sch_wide_yes <- safe(st(svymean(~as.numeric(sch.wide == "Yes"), d)))
  r$by_stype_mean_api00 <- safe(byl1(svyby(~api00, ~stype, d, svymean)))
  r$ciprop_logit_sch_wide <- safe(cip(svyciprop(~I(sch.wide == "Yes"), d, method = "logit")))
  r$ciprop_beta_sch_wide <- safe(cip(svyciprop(~I(sch.wide == "Yes"), d, method = "beta")))
  r$mean_awards_yes <- safe(st(svymean(~as.numeric(awards == "Yes"), d)))
  r$ciprop_logit_awards <- safe(cip(svyciprop(~I(awards == "Yes"), d, method = "logit")))
  r$ciprop_beta_awards <- safe(cip(svyciprop(~I(awards == "Yes"), d, method = "beta")))
  r$domain_H_mean_api00 <- safe(st(svymean(~api00, subset(d, stype == "H"))))
  r$degf_domain_H <- safe(degf(subset(d, stype == "H")))
  r$statistic_warnings <- unique(STATW)
  r
}
lfs_battery <- function(d) {
  STATW <<- character(0)
  dm <- subset(d, migrant == 1)
  r <- list()
  r$mean_migrant <- safe(stat_list(svymean(~fl + thb, dm)))
  r$total_migrant <- safe(stat_list(svytotal(~fl + thb, dm)))
  r$by_dest_migrant <- safe(by_list(svyby(~fl + thb, ~dest, dm, svymean), c("fl", "thb")))
  for (m in c("logit", "beta")) for (v in c("fl", "thb")) {
    r[[paste0("ciprop_", m, "_migrant")]][[v]] <- safe(cip(svyciprop(as.formula(paste0("~", v)), dm, method = m)))
  }
  r$degf_migrant <- degf(dm)
  r$statistic_warnings <- unique(STATW)
  r
}
# full analysis weights of a replicate design as a data frame: id, w (full-sample), rw1..rwR
repw_df <- function(d, id, idname = "snum") {
  A <- unname(as.matrix(weights(d, "analysis")))
  df <- data.frame(id = id, w = num(weights(d, "sampling")))
  names(df)[1] <- idname
  for (j in seq_len(ncol(A))) df[[paste0("rw", j)]] <- A[, j]
  df
}

res <- list()
defs <- list()
notes <- character(0)
def <- function(name, expr) {  # base (Taylor) designs, recorded as code text
  defs[[name]] <<- paste(deparse(substitute(expr), width.cutoff = 500L), collapse = " ")
  expr
}

# ---- 1. JK1 on apiclus1 ----------------------------------------------------------------------
dclus1 <- def("dclus1", svydesign(id = ~dnum, weights = ~pw, data = apiclus1))
dclus1_fpc <- def("dclus1_fpc", svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc))
m <- mk(as.svrepdesign(dclus1, type = "JK1"))
jk1 <- m$d
f_jk1 <- write_csv_small(repw_df(jk1, apiclus1$snum), "apiclus1_jk1_repw",
                         "as.svrepdesign(dclus1, type='JK1'): weights(design, 'analysis') (15 replicates); identical with fpc")
res$api_clus1_jk1 <- c(repinfo(m, "dclus1"), list(weights_file = f_jk1), api_battery(jk1))
m <- mk(as.svrepdesign(dclus1_fpc, type = "JK1"))
jk1_fpc <- m$d
res$api_clus1_jk1_fpc <- c(repinfo(m, "dclus1_fpc"), list(weights_file = f_jk1,
  repweights_identical_to_nofpc = isTRUE(all.equal(weights(jk1_fpc, "analysis"), weights(jk1, "analysis"), tolerance = 0)),
  fpc_in = "scale", scale_formula = "(1 - n/N) * (n - 1)/n with n = 15 districts, N = fpc = 757; rscales all 1"),
  api_battery(jk1_fpc))
res$api_clus1_taylor_fpc <- c(taylorinfo(list(d = dclus1_fpc, code = defs$dclus1_fpc, warnings = character(0))),
                              api_battery(dclus1_fpc))

# ---- 2. JKn on apistrat ----------------------------------------------------------------------
dstrat <- def("dstrat", svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat))
dstrat_fpc <- def("dstrat_fpc", svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc))
jkn_strata <- function(d, strata) {  # stratum of each replicate (the stratum of its deleted PSU)
  A <- weights(d, "analysis")
  apply(A, 2, function(a) unique(strata[a == 0]))
}
m <- mk(as.svrepdesign(dstrat, type = "JKn"))
jkn <- m$d
f_jkn <- write_csv_small(repw_df(jkn, apistrat$snum), "apistrat_jkn_repw",
                         "as.svrepdesign(dstrat, type='JKn'): weights(design, 'analysis') (200 replicates); identical with fpc")
rs_str <- jkn_strata(jkn, apistrat$stype)
rscale_by <- function(d) { r <- num(d$rscales); as.list(tapply(r, rs_str, unique)) }
res$api_strat_jkn <- c(repinfo(m, "dstrat"), list(weights_file = f_jkn,
  replicate_strata_rle = list(values = rle(rs_str)$values, lengths = rle(rs_str)$lengths),
  rscales_by_stratum = rscale_by(jkn)), api_battery(jkn))
m <- mk(as.svrepdesign(dstrat_fpc, type = "JKn"))
jkn_fpc <- m$d
res$api_strat_jkn_fpc <- c(repinfo(m, "dstrat_fpc"), list(weights_file = f_jkn,
  repweights_identical_to_nofpc = isTRUE(all.equal(weights(jkn_fpc, "analysis"), weights(jkn, "analysis"), tolerance = 0)),
  replicate_strata_rle = list(values = rle(rs_str)$values, lengths = rle(rs_str)$lengths),
  rscales_by_stratum = rscale_by(jkn_fpc), fpc_in = "rscales",
  rscales_formula = "(1 - n_h/N_h) * (n_h - 1)/n_h for the stratum of the replicate; scale 1"),
  api_battery(jkn_fpc))

# ---- 3. BRR and Fay on pseudo-paired designs --------------------------------------------------
# (a) apistrat: within each stype, schools ranked by snum; pseudo-stratum k holds ranks 2k-1, 2k
ap <- apistrat
ap$rank_in_stype <- ave(ap$snum, ap$stype, FUN = function(s) rank(s))
ap$pstratum <- sprintf("%s%02d", ap$stype, (ap$rank_in_stype - 1) %/% 2 + 1)
cnt <- table(ap$pstratum)
ap <- ap[ap$pstratum %in% names(cnt)[cnt == 2], ]
stopifnot(nrow(ap) == 200, length(unique(ap$pstratum)) == 100)
pairs_cols <- c("snum", "dnum", "stype", "pstratum", "pw", "fpc", "api00", "api99", "enroll", "sch.wide", "awards")
f_pairs <- write_csv_small(ap[, pairs_cols], "apistrat_pairs",
  "apistrat (same row order) with pseudo-strata of 2 schools: within stype, rank by snum, pstratum = stype + sprintf('%02d', (rank-1)%/%2 + 1); PSU = snum")
ap <- read_back(f_pairs)
dpairs <- def("dpairs", svydesign(id = ~snum, strata = ~pstratum, weights = ~pw, data = ap))
# (b) apiclus2: its 40 districts sorted by dnum, consecutive pairs = 20 pseudo-strata; PSU = dnum
ac2 <- apiclus2
ud <- sort(unique(ac2$dnum))
ac2$pstratum <- sprintf("P%02d", (match(ac2$dnum, ud) - 1) %/% 2 + 1)
f_pairs2 <- write_csv_small(ac2[, c("snum", "dnum", "stype", "pstratum", "pw", "api00", "api99", "enroll", "sch.wide", "awards")],
  "apiclus2_pairs", "apiclus2 (same row order) with pseudo-strata P01..P20 = consecutive pairs of its 40 districts sorted by dnum; PSU = dnum")
ac2 <- read_back(f_pairs2)
dpairs2 <- def("dpairs2", svydesign(id = ~dnum, strata = ~pstratum, weights = ~pw, data = ac2))

hadamard_info <- function(strata, psu) {
  b <- brrweights(strata, psu)  # only.weights = FALSE: the half-sample bookkeeping
  H <- survey:::hadamard(length(unique(strata)))
  sorted_strata <- sort(unique(as.character(strata)))
  first_psu <- sapply(sorted_strata, function(s) psu[strata == s][1])
  list(n_strata = length(sorted_strata), hadamard_nrow = nrow(H), hadamard_ncol = ncol(H),
       hadamard_rows = apply(H, 1, paste, collapse = ""),
       stratum_order = unname(sorted_strata), first_psu_in_stratum = unname(first_psu),
       rule = paste("replicate i (column i of H, 0/1 entries): in the k-th stratum of stratum_order",
                    "(sorted labels), the PSU that appears first in the data (first_psu_in_stratum) gets",
                    "multiplier 2 (BRR) or 2 - rho (Fay) when H[k + 1, i] == 1, the other PSU gets 0 (rho);",
                    "when H[k + 1, i] == 0 the roles swap. Row 1 of H is not used."))
}
check_hadamard <- function(d, strata, psu, rho) {  # verify the rule above against R's weights
  hi <- hadamard_info(strata, psu)
  H <- do.call(rbind, lapply(strsplit(hi$hadamard_rows, ""), as.integer))
  A <- weights(d, "analysis") / weights(d, "sampling")
  for (k in seq_along(hi$stratum_order)) {
    isfirst <- psu == hi$first_psu_in_stratum[k] & strata == hi$stratum_order[k]
    expect <- ifelse(H[k + 1, ] == 1, 2 - rho, rho)
    for (r in which(isfirst)) stopifnot(max(abs(A[r, ] - expect)) < 1e-12)
  }
  hi
}
brr_block <- function(m, base, file) {
  c(repinfo(m, base), list(weights_file = file), api_battery(m$d))
}
m <- mk(as.svrepdesign(dpairs, type = "BRR", compress = FALSE))
brr <- m$d
hi1 <- check_hadamard(brr, ap$pstratum, ap$snum, 0)
f_brr <- write_csv_small(repw_df(brr, ap$snum), "apistrat_pairs_brr_repw",
                         "as.svrepdesign(dpairs, type='BRR', compress=FALSE): weights(design, 'analysis')")
res$api_pairs_brr <- c(brr_block(m, "dpairs", f_brr), list(hadamard = hi1))
m <- mk(as.svrepdesign(dpairs, type = "Fay", fay.rho = 0.5, compress = FALSE))
fay05 <- m$d
invisible(check_hadamard(fay05, ap$pstratum, ap$snum, 0.5))
f_fay05 <- write_csv_small(repw_df(fay05, ap$snum), "apistrat_pairs_fay05_repw",
                           "as.svrepdesign(dpairs, type='Fay', fay.rho=0.5, compress=FALSE): weights(design, 'analysis')")
res$api_pairs_fay05 <- c(brr_block(m, "dpairs", f_fay05),
                         list(hadamard = "same as api_pairs_brr"))
m <- mk(as.svrepdesign(dpairs, type = "Fay", fay.rho = 0.3, compress = FALSE))
fay03 <- m$d
invisible(check_hadamard(fay03, ap$pstratum, ap$snum, 0.3))
f_fay03 <- write_csv_small(repw_df(fay03, ap$snum), "apistrat_pairs_fay03_repw",
                           "as.svrepdesign(dpairs, type='Fay', fay.rho=0.3, compress=FALSE): weights(design, 'analysis')")
res$api_pairs_fay03 <- c(brr_block(m, "dpairs", f_fay03),
                         list(hadamard = "same as api_pairs_brr"))
m <- mk(as.svrepdesign(dpairs, type = "BRR"))  # compressed: same numbers expected
res$api_pairs_brr_compressed <- c(repinfo(m, "dpairs"), api_battery(m$d))
res$api_pairs_taylor <- c(taylorinfo(list(d = dpairs, code = defs$dpairs, warnings = character(0))),
                          api_battery(dpairs))
m <- mk(as.svrepdesign(dpairs2, type = "BRR", compress = FALSE))
brr2 <- m$d
hi2 <- check_hadamard(brr2, ac2$pstratum, ac2$dnum, 0)
f_brr2 <- write_csv_small(repw_df(brr2, ac2$snum), "apiclus2_pairs_brr_repw",
                          "as.svrepdesign(dpairs2, type='BRR', compress=FALSE): weights(design, 'analysis')")
res$api_clus2_pairs_brr <- c(brr_block(m, "dpairs2", f_brr2), list(hadamard = hi2))
m <- mk(as.svrepdesign(dpairs2, type = "Fay", fay.rho = 0.5, compress = FALSE))
res$api_clus2_pairs_fay05 <- c(repinfo(m, "dpairs2"), list(hadamard = "same as api_clus2_pairs_brr",
                               weights_note = "not written: pw * (2 - rho or rho) by the api_clus2_pairs_brr pattern"),
                               api_battery(m$d))
res$api_clus2_pairs_taylor <- c(taylorinfo(list(d = dpairs2, code = defs$dpairs2, warnings = character(0))),
                                api_battery(dpairs2))
hadamard_sizes <- sapply(1:128, function(n) ncol(survey:::hadamard(n)))

# ---- 4. bootstrap and subbootstrap (R's RNG: use the written weights) -------------------------
set.seed(SEED)
m <- mk(as.svrepdesign(dclus1, type = "bootstrap", replicates = 50))
boot <- m$d
f_boot <- write_csv_small(repw_df(boot, apiclus1$snum), "apiclus1_bootstrap50_repw",
  "set.seed(20261129); as.svrepdesign(dclus1, type='bootstrap', replicates=50): weights(design, 'analysis')")
res$api_clus1_bootstrap50 <- c(repinfo(m, "dclus1"), list(seed = SEED, weights_file = f_boot,
  scale_formula = "psu.per.strata/((psu.per.strata - 1)(R - 1)) with psu.per.strata = 15, R = 50"), api_battery(boot))
set.seed(SEED)
m <- mk(as.svrepdesign(dclus1_fpc, type = "bootstrap", replicates = 50))
boot_fpc <- m$d
f_boot_fpc <- write_csv_small(repw_df(boot_fpc, apiclus1$snum), "apiclus1_fpc_bootstrap50_repw",
  "set.seed(20261129); as.svrepdesign(dclus1_fpc, type='bootstrap', replicates=50): weights(design, 'analysis')")
res$api_clus1_fpc_bootstrap50 <- c(repinfo(m, "dclus1_fpc"), list(seed = SEED, weights_file = f_boot_fpc),
                                   api_battery(boot_fpc))
set.seed(SEED)
m <- mk(as.svrepdesign(dclus1, type = "subbootstrap", replicates = 50))
sboot <- m$d
f_sboot <- write_csv_small(repw_df(sboot, apiclus1$snum), "apiclus1_subbootstrap50_repw",
  "set.seed(20261129); as.svrepdesign(dclus1, type='subbootstrap', replicates=50): weights(design, 'analysis')")
res$api_clus1_subbootstrap50 <- c(repinfo(m, "dclus1"), list(seed = SEED, weights_file = f_sboot), api_battery(sboot))

# ---- 5. svrepdesign over the written weights -------------------------------------------------
with_w <- function(data, wfile, idname = "snum") {
  w <- read_back(wfile)
  stopifnot(identical(w[[idname]], data[[idname]]))
  cbind(data, w[, -1])
}
g_boot <- with_w(apiclus1, f_boot)
g_jk1 <- with_w(apiclus1, f_jk1)
g_brr <- with_w(ap, f_brr)
g_fay03 <- with_w(ap, f_fay03)
g_fay05 <- with_w(ap, f_fay05)
g_jkn <- with_w(apistrat, f_jkn)
given_note <- "data = the base CSV with the weights file's columns w, rw1..rwR appended (by row, same snum order)"
given <- function(key, m, file, extra = list()) {
  res[[key]] <<- c(repinfo(m), list(weights_file = file, data_note = given_note), extra, api_battery(m$d))
}
given("given_bootstrap", mk(svrepdesign(data = g_boot, repweights = "^rw[0-9]+$", weights = ~w, type = "bootstrap",
                                        combined.weights = TRUE)), f_boot)
given("given_bootstrap_mse", mk(svrepdesign(data = g_boot, repweights = "^rw[0-9]+$", weights = ~w, type = "bootstrap",
                                            combined.weights = TRUE, mse = TRUE)), f_boot)
given("given_jk1", mk(svrepdesign(data = g_jk1, repweights = "^rw[0-9]+$", weights = ~w, type = "JK1",
                                  combined.weights = TRUE)), f_jk1)
given("given_jk1_mse", mk(svrepdesign(data = g_jk1, repweights = "^rw[0-9]+$", weights = ~w, type = "JK1",
                                      combined.weights = TRUE, scale = 14/15, mse = TRUE)), f_jk1)
g_jk1_mult <- g_jk1
for (j in 1:15) g_jk1_mult[[paste0("rw", j)]] <- g_jk1[[paste0("rw", j)]] / g_jk1$w
given("given_jk1_multipliers", mk(svrepdesign(data = g_jk1_mult, repweights = "^rw[0-9]+$", weights = ~w, type = "JK1",
                                              combined.weights = FALSE)), f_jk1,
      list(multipliers = "rw_j := rw_j / w computed in R from the weights file (values 0 and 15/14)"))
jkn_rscales <- sapply(seq_len(200), function(j) {  # (n_h - 1)/n_h for the stratum of the deleted school
  s <- apistrat$stype[g_jkn[[paste0("rw", j)]] == 0]; nh <- sum(apistrat$stype == s); (nh - 1) / nh
})
given("given_jkn", mk(svrepdesign(data = g_jkn, repweights = "^rw[0-9]+$", weights = ~w, type = "JKn",
                                  combined.weights = TRUE, rscales = jkn_rscales)), f_jkn,
      list(rscales_note = "jkn_rscales = (n_h - 1)/n_h of the stratum of the school with zero weight in replicate j"))
g_jkn_mult <- g_jkn
for (j in 1:200) g_jkn_mult[[paste0("rw", j)]] <- g_jkn[[paste0("rw", j)]] / g_jkn$w
given("given_jkn_multipliers", mk(svrepdesign(data = g_jkn_mult, repweights = "^rw[0-9]+$", weights = ~w, type = "JKn",
                                              combined.weights = FALSE)), f_jkn,
      list(multipliers = "rw_j := rw_j / w; rscales guessed by R as 1/max(multiplier column)"))
given("given_brr", mk(svrepdesign(data = g_brr, repweights = "^rw[0-9]+$", weights = ~w, type = "BRR",
                                  combined.weights = TRUE)), f_brr)
given("given_fay03", mk(svrepdesign(data = g_fay03, repweights = "^rw[0-9]+$", weights = ~w, type = "Fay", rho = 0.3,
                                    combined.weights = TRUE)), f_fay03)
given("given_sdr", mk(svrepdesign(data = g_boot, repweights = "^rw[0-9]+$", weights = ~w, type = "successive-difference",
                                  combined.weights = TRUE)), f_boot,
      list(weights_note = "a formula check only: the apiclus1 bootstrap weights used as if they were SDR weights (scale 4/R)"))
given("given_other", mk(svrepdesign(data = g_jk1, repweights = "^rw[0-9]+$", weights = ~w, type = "other",
                                    scale = 0.5, rscales = rep(1, 15), combined.weights = TRUE)), f_jk1)
given("given_other_defaults", mk(svrepdesign(data = g_jk1, repweights = "^rw[0-9]+$", weights = ~w, type = "other",
                                             combined.weights = TRUE)), f_jk1)

# ---- 6. calibration of the Taylor design dclus1_fpc ------------------------------------------
pop_stype_api99 <- c(pop_stype, api99 = pop_api99)
pop_stype_schwide <- c(pop_stype, sch.wideYes = pop_schwide_yes)
cal_block <- function(m, formula, population) {
  d <- m$d
  w <- num(weights(d))
  out <- c(taylorinfo(m, "dclus1_fpc"), list(weights = w))
  if (!is.null(formula)) {
    mm <- model.matrix(formula, model.frame(formula, apiclus1))
    out$population <- as.list(population)
    out$achieved_totals <- as.list(colSums(mm * w))
  }
  out$g_range <- range(w / apiclus1$pw)
  c(out, api_battery(d))
}
res$cal_linear_stype <- cal_block(mk(calibrate(dclus1_fpc, ~stype, pop_stype)), ~stype, pop_stype)
res$cal_linear_stype_api99 <- cal_block(mk(calibrate(dclus1_fpc, ~stype + api99, pop_stype_api99)),
                                        ~stype + api99, pop_stype_api99)
res$cal_raking_stype_schwide <- cal_block(mk(calibrate(dclus1_fpc, ~stype + sch.wide, pop_stype_schwide,
                                                       calfun = "raking")), ~stype + sch.wide, pop_stype_schwide)
res$cal_raking_stype_schwide_eps1e12 <- cal_block(mk(calibrate(dclus1_fpc, ~stype + sch.wide, pop_stype_schwide,
                                                               calfun = "raking", epsilon = 1e-12)),
                                                  ~stype + sch.wide, pop_stype_schwide)
res$cal_logit_stype_api99_b07_17 <- cal_block(mk(calibrate(dclus1_fpc, ~stype + api99, pop_stype_api99,
                                                           calfun = "logit", bounds = c(0.7, 1.7))),
                                              ~stype + api99, pop_stype_api99)
res$cal_logit_stype_api99_b07_17_eps1e12 <- cal_block(mk(calibrate(dclus1_fpc, ~stype + api99, pop_stype_api99,
                                                                   calfun = "logit", bounds = c(0.7, 1.7),
                                                                   epsilon = 1e-12)),
                                                      ~stype + api99, pop_stype_api99)
# bounds c(0.8, 1.3) are infeasible here (stype H needs g = 755/(14 * 33.847) = 1.59): see errors
res$cal_linear_bounded_stype_api99_b07_17 <- cal_block(mk(calibrate(dclus1_fpc, ~stype + api99, pop_stype_api99,
                                                                    bounds = c(0.7, 1.7))),
                                                       ~stype + api99, pop_stype_api99)
res$cal_linear_bounded_stype_api99_b06_16 <- cal_block(mk(calibrate(dclus1_fpc, ~stype + api99, pop_stype_api99,
                                                                    bounds = c(0.6, 1.6))),
                                                       ~stype + api99, pop_stype_api99)
res$cal_poststratify_stype <- cal_block(mk(postStratify(dclus1_fpc, ~stype, pop_stype_df)), ~stype, pop_stype)
res$cal_rake_stype_schwide <- cal_block(mk(rake(dclus1_fpc, list(~stype, ~sch.wide), list(pop_stype_df, pop_schwide_df))),
                                        ~stype + sch.wide, pop_stype_schwide)
res$cal_rake_stype_schwide_tight <- cal_block(mk(rake(dclus1_fpc, list(~stype, ~sch.wide), list(pop_stype_df, pop_schwide_df),
                                                      control = list(maxit = 100, epsilon = 1e-13))),
                                              ~stype + sch.wide, pop_stype_schwide)

# ---- 7. calibration of replicate designs (every replicate recalibrated) -----------------------
jk1c <- as.svrepdesign(dclus1_fpc, type = "JK1")
defs$jk1c <- "as.svrepdesign(dclus1_fpc, type = \"JK1\")"
boot_c <- svrepdesign(data = g_boot, repweights = "^rw[0-9]+$", weights = ~w, type = "bootstrap", combined.weights = TRUE)
defs$boot_given <- res$given_bootstrap$call
repcal <- list()
repcal_block <- function(key, m, base, formula, population, prefix) {
  d <- m$d
  A <- weights(d, "analysis")
  out <- repinfo(m, base)
  mm <- model.matrix(formula, model.frame(formula, d$variables))
  out$population <- as.list(population)
  out$achieved_totals <- as.list(colSums(mm * weights(d, "sampling")))
  out$max_abs_replicate_misfit <- max(abs(sweep(t(mm) %*% A, 1, population)))
  out$replicates_not_calibrated <- which(apply(abs(sweep(t(mm) %*% A, 1, population)) / (1 + abs(population)), 2, max) > 1e-6)
  out$weights <- num(weights(d, "sampling"))
  if (!is.null(prefix)) {
    out$weights_prefix <- prefix
    repcal[[paste0(prefix, "w")]] <<- num(weights(d, "sampling"))
    for (j in seq_len(ncol(A))) repcal[[paste0(prefix, "rw", j)]] <<- num(A[, j])
  }
  res[[key]] <<- c(out, api_battery(d))
}
repcal_block("jk1_cal_linear_stype", mk(calibrate(jk1c, ~stype, pop_stype)), "jk1c", ~stype, pop_stype, "lin_")
repcal_block("jk1_cal_raking_stype", mk(calibrate(jk1c, ~stype, pop_stype, calfun = "raking")), "jk1c", ~stype,
             pop_stype, "rak_")
repcal_block("jk1_cal_raking_stype_schwide", mk(calibrate(jk1c, ~stype + sch.wide, pop_stype_schwide, calfun = "raking")),
             "jk1c", ~stype + sch.wide, pop_stype_schwide, "rak2_")
repcal_block("jk1_cal_linear_stype_api99", mk(calibrate(jk1c, ~stype + api99, pop_stype_api99)), "jk1c",
             ~stype + api99, pop_stype_api99, "lin2_")
repcal_block("jk1_cal_logit_stype_api99_b07_17", mk(calibrate(jk1c, ~stype + api99, pop_stype_api99, calfun = "logit",
                                                              bounds = c(0.7, 1.7))),
             "jk1c", ~stype + api99, pop_stype_api99, "logit_")
repcal_block("jk1_poststratify_stype", mk(postStratify(jk1c, ~stype, pop_stype_df)), "jk1c", ~stype, pop_stype, "ps_")
repcal_block("jk1_rake_stype_schwide_tight", mk(rake(jk1c, list(~stype, ~sch.wide), list(pop_stype_df, pop_schwide_df),
                                                     control = list(maxit = 100, epsilon = 1e-13))),
             "jk1c", ~stype + sch.wide, pop_stype_schwide, "rake_")
f_repcal <- write_csv_small(cbind(data.frame(snum = apiclus1$snum), as.data.frame(repcal)), "apiclus1_jk1_calibrated_repw",
  "calibrated JK1 designs: for each prefix (see results.jk1_*.weights_prefix) <prefix>w = calibrated full-sample weight, <prefix>rw1..rw15 = calibrated replicate analysis weights")
for (k in grep("^jk1_", names(res), value = TRUE)) res[[k]]$weights_file <- f_repcal
repcal_block("boot_cal_linear_stype", mk(calibrate(boot_c, ~stype, pop_stype, compress = FALSE)), "boot_given", ~stype, pop_stype, NULL)
repcal_block("boot_cal_raking_stype_schwide", mk(calibrate(boot_c, ~stype + sch.wide, pop_stype_schwide,
                                                           calfun = "raking", compress = FALSE)),
             "boot_given", ~stype + sch.wide, pop_stype_schwide, NULL)
repcal_block("boot_poststratify_stype", mk(postStratify(boot_c, ~stype, pop_stype_df)), "boot_given", ~stype, pop_stype, NULL)

# ---- 8. infeasible calibration ---------------------------------------------------------------
infeasible <- function(expr) {
  code <- paste(deparse(substitute(expr), width.cutoff = 500L), collapse = " ")
  W <- character(0)
  err <- tryCatch(withCallingHandlers({ capture.output(expr); NA_character_ }, warning = function(w) {
    W <<- c(W, conditionMessage(w)); invokeRestart("muffleWarning")
  }), error = function(e) conditionMessage(e))
  list(call = code, error = err, warnings = W)
}
errors <- list(
  cal_logit_stype_b099_101 = infeasible(calibrate(dclus1_fpc, ~stype, pop_stype, calfun = "logit", bounds = c(0.99, 1.01))),
  cal_linear_stype_api99_b08_13 = infeasible(calibrate(dclus1_fpc, ~stype + api99, pop_stype_api99, bounds = c(0.8, 1.3))),
  cal_linear_stype_b08_13 = infeasible(calibrate(dclus1_fpc, ~stype, pop_stype, bounds = c(0.8, 1.3))),
  cal_linear_stype_b099_101 = infeasible(calibrate(dclus1_fpc, ~stype, pop_stype, bounds = c(0.99, 1.01))),
  jk1_cal_logit_stype_b099_101 = infeasible(calibrate(jk1c, ~stype, pop_stype, calfun = "logit", bounds = c(0.99, 1.01))),
  boot_cal_linear_default_compress = infeasible(calibrate(boot_c, ~stype, pop_stype)),
  poststratify_missing_level = infeasible(postStratify(dclus1_fpc, ~stype, data.frame(stype = c("E", "H"), Freq = c(4421, 755))))
)

# ---- 9. LFS: replicate designs and calibration ------------------------------------------------
lfs_des <- def("lfs_des", svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest = TRUE, data = lfs))
lfs_rep <- def("lfs_rep", svrepdesign(data = lfs, repweights = "^bw[0-9]+$", weights = ~w, type = "bootstrap",
                                      combined.weights = TRUE))
lfs_f <- ~sex + region
lfs_mm <- model.matrix(lfs_f, lfs)
lfs_tot <- colSums(lfs_mm * lfs$w)
pop_lfs <- round(lfs_tot * (1 + 0.03 * cos(seq_along(lfs_tot))))
notes <- c(notes, "LFS population totals pop_lfs = round(T * (1 + 0.03 * cos(1:16))) with T the w-weighted sample totals of model.matrix(~sex + region) (values in results.lfs_*_cal_*.population)")
res$lfs_taylor <- c(taylorinfo(list(d = lfs_des, code = defs$lfs_des, warnings = character(0))), lfs_battery(lfs_des))
res$lfs_rep_bootstrap <- c(repinfo(list(d = lfs_rep, code = defs$lfs_rep, warnings = character(0))), lfs_battery(lfs_rep))
m <- mk(svrepdesign(data = lfs, repweights = "^bw[0-9]+$", weights = ~w, type = "bootstrap", combined.weights = TRUE,
                    mse = TRUE))
res$lfs_rep_bootstrap_mse <- c(repinfo(m), lfs_battery(m$d))
lfs_cal_w <- list(person_id = lfs$person_id)
lfs_cal <- function(key, m, base, population, wcol = NULL) {
  d <- m$d
  w <- num(weights(d, "sampling"))
  info <- if (inherits(d, "svyrep.design")) repinfo(m, base) else taylorinfo(m, base)
  info$population <- as.list(population)
  info$achieved_totals <- as.list(colSums(lfs_mm * w))
  info$sum_weights_migrant <- sum(w[lfs$migrant == 1])
  if (inherits(d, "svyrep.design"))
    info$max_abs_replicate_misfit <- max(abs(sweep(t(lfs_mm) %*% weights(d, "analysis"), 1, population)))
  if (!is.null(wcol)) { lfs_cal_w[[wcol]] <<- w; info$weights_column <- wcol }
  res[[key]] <<- c(info, lfs_battery(d))
}
lfs_cal("lfs_taylor_cal_linear_sex_region", mk(calibrate(lfs_des, ~sex + region, pop_lfs)), "lfs_des", pop_lfs, "w_cal_linear")
lfs_cal("lfs_taylor_cal_raking_sex_region", mk(calibrate(lfs_des, ~sex + region, pop_lfs, calfun = "raking")),
        "lfs_des", pop_lfs, "w_cal_raking")
lfs_cal("lfs_rep_cal_linear_sex_region", mk(calibrate(lfs_rep, ~sex + region, pop_lfs, compress = FALSE)), "lfs_rep", pop_lfs)
lfs_cal("lfs_rep_cal_raking_sex_region", mk(calibrate(lfs_rep, ~sex + region, pop_lfs, calfun = "raking", compress = FALSE)),
        "lfs_rep", pop_lfs)
pop_lfs_sex <- data.frame(sex = c("female", "male"), Freq = num(c(pop_lfs[1] - pop_lfs["sexmale"], pop_lfs["sexmale"])))
lfs_ps <- function(key, m, base) {
  d <- m$d
  info <- if (inherits(d, "svyrep.design")) repinfo(m, base) else taylorinfo(m, base)
  info$population <- list(female = pop_lfs_sex$Freq[1], male = pop_lfs_sex$Freq[2])
  res[[key]] <<- c(info, lfs_battery(d))
}
lfs_ps("lfs_taylor_poststratify_sex", mk(postStratify(lfs_des, ~sex, pop_lfs_sex)), "lfs_des")
lfs_ps("lfs_rep_poststratify_sex", mk(postStratify(lfs_rep, ~sex, pop_lfs_sex)), "lfs_rep")
f_lfs_cal <- write_csv_small(as.data.frame(lfs_cal_w), "lfs_n20000_calibrated_w",
  "calibrated full-sample weights of the LFS Taylor design (row order of lfs_n20000.csv.gz): w_cal_linear, w_cal_raking")

# ---- meta and output -------------------------------------------------------------------------
notes <- c(notes,
  "options(survey.lonely.psu='fail', survey.replicates.mse=FALSE); API data read from the CSVs in this folder (equal to data(api))",
  "population totals from data(api)'s apipop: N = 6194, stype H 755, M 1018 (E 4421), sum(api99) = 3914069, sch.wide Yes 5122 (No 1072)",
  "weights files: columns snum (or person_id), w = weights(design, 'sampling'), rw1..rwR = weights(design, 'analysis'); 15 significant digits",
  "given_* designs read those files back, so flestimate can use exactly the same weights",
  "apistrat_pairs: pseudo-strata of 2 schools within stype (rank by snum); every school is in a complete pair (100 pseudo-strata); PSU = school",
  "apiclus2_pairs: districts sorted by dnum, consecutive pairs -> 20 pseudo-strata; PSU = district (first stage only)",
  "calibrated Taylor designs: results.cal_*.weights are weights(design) in apiclus1.csv row order",
  "rake() default control is list(maxit = 10, epsilon = 1): epsilon >= 1 is an absolute tolerance on the change of the raked table; *_tight uses epsilon = 1e-13 (relative to the sum of weights)",
  "calibrate() iterative calfuns stop when max |misfit|/(1 + |population|) < epsilon (default 1e-7); *_eps1e12 uses 1e-12",
  "svyciprop logit: est from an iterative glm (agrees with the weighted mean to about 1e-8), se = se of the mean; the interval is from the glm (logit scale) with df = degf(design)",
  "designs calibrated on sch.wide fix the sch.wide proportion at 5122/6194: its se is rounding noise (compare absolutely) and R's beta interval is NaN (null); use the awards statistics there",
  "calibrate() on a replicate design does not stop when a replicate fails to converge: it keeps that replicate's last iterate (results.*.warnings, replicates_not_calibrated); the full-sample calibration must converge",
  "degf of a replicate design = qr(weights(design, 'analysis'), tol = 1e-5)$rank - 1, computed at construction; linear calibrate() and postStratify() recompute it (so it can rise after calibration), nonlinear calibrate() keeps the old value; subset() recomputes it",
  "R's calibrate(compress = NA) default fails on uncompressed replicate weights (svrepdesign over given columns): the boot_* and lfs_rep_cal_* calls pass compress = FALSE (see errors.boot_cal_linear_default_compress)",
  "null where R gives NA")
meta <- list(R = R.version.string, survey = as.character(packageVersion("survey")),
             jsonlite = as.character(packageVersion("jsonlite")),
             data.table = as.character(packageVersion("data.table")),
             RNGkind = RNGkind(), seed = SEED,
             options = list(survey.lonely.psu = getOption("survey.lonely.psu"),
                            survey.replicates.mse = getOption("survey.replicates.mse")),
             inputs = list(api = c("apistrat.csv", "apiclus1.csv", "apiclus2.csv"),
                           lfs = "data/synthetic/lfs_n20000.csv.gz",
                           lfs_md5 = unname(tools::md5sum(lfs_path)), lfs_rows = nrow(lfs)),
             defs = defs,
             population = list(stype = as.list(pop_stype), api99 = pop_api99, sch_wide_yes = pop_schwide_yes,
                               stype_table = as.list(setNames(pop_stype_df$Freq, pop_stype_df$stype)),
                               sch_wide_table = as.list(setNames(pop_schwide_df$Freq, pop_schwide_df$sch.wide)),
                               lfs = as.list(pop_lfs)),
             hadamard_sizes = list(n_strata = 1:128, n_replicates = hadamard_sizes,
                                   note = "ncol(survey:::hadamard(n)): the number of BRR/Fay replicates R uses for n strata"),
             files = files, notes = notes)
out <- file.path(dir, "replicate_reference.json")
write(toJSON(list(meta = meta, results = res, errors = errors), digits = NA, na = "null", null = "null",
             auto_unbox = TRUE, pretty = TRUE), out)
message("wrote ", out)
