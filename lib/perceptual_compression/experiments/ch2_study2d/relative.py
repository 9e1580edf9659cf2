"""Fig. 4 (left) and Fig. 14 (Sec. 5.1; appendix C, eq. 12-13): rate-normalised performance of the
p(x)-weighted models relative to the plain ones along the x-axis, paired by equal lambda or at equal coded rate,
and the numbers the chapter reads from it (over one bank, or over seeds)."""

from __future__ import annotations

import numpy as np

from ...analysis.relative_performance import polynomial_smooth, relative_performance
from .bank import TrainedBank
from .cells import pointwise_rate_distortion


def line_profiles(bank: TrainedBank, *, n: int = 3500, x_max: float = 35.0, window: float = 0.5) -> dict[str, object]:
    """Every member's distortion and rate along ``(x, 0), x in [0, x_max]``, per window of width ``window``.

    Eq. 12 defines the performance of a network on a *set* of points as its distortion over its rate; the
    sets here are consecutive windows along the line (a single point's ``D/R`` swings by orders of magnitude
    depending on how close it lies to a code vector). Returns the window centres ``x`` and, per member name,
    ``D`` (the window's mean sum of squared errors of the coded reconstruction, eq. 3's D) and ``R`` (mean
    ``-log2 p(y_hat)`` in bits) per window. These are what :func:`relative_performance_along_x` and
    :func:`rate_matched_relative` divide.
    """
    line = bank.source.line_along_x(n, x_max)
    xs = line[:, 0].numpy()
    edges = np.arange(0.0, x_max + window, window)
    which = np.clip(np.digitize(xs, edges) - 1, 0, len(edges) - 2)
    centres = 0.5 * (edges[:-1] + edges[1:])
    keep = [b for b in range(len(centres)) if np.any(which == b)]
    members = {}
    for i, m in enumerate(bank.members):
        d, r = pointwise_rate_distortion(bank.model.extract(i), line)
        members[m.name] = {"D": np.array([d[which == b].mean() for b in keep]),
                           "R": np.array([r[which == b].mean() for b in keep])}
    return {"x": centres[keep], "members": members}


def _ratios(x, pairs, degree: int) -> dict[str, object]:
    raw = np.array([relative_performance(d2, r2, d1, r1) for d2, r2, d1, r1 in pairs])
    fit = np.array([polynomial_smooth(x, r, degree) for r in raw])
    return {"raw": raw, "fit": fit, "mean_raw": raw.mean(0), "mean_fit": fit.mean(0)}


def relative_from_profiles(profiles, *, degree: int = 20) -> dict[str, object]:
    """Fig. 4 (left) from :func:`line_profiles`: ``P_L2 / P_L1`` per window for the members with the same lambda
    (our first pairing: the paper tunes lambda "so that the networks have similar rate ranges" and does not say
    how it pairs them; see :func:`rate_matched_relative`), their degree-``degree`` polynomial fits (Fig. 14a) and the means over pairs
    ("average across rates")."""
    members = profiles["members"]
    lambdas = sorted(float(name[len("L1-λ"):]) for name in members if name.startswith("L1-λ")
                     and f"L2-λ{name[len('L1-λ'):]}" in members)
    x = np.asarray(profiles["x"], dtype=float)
    pairs = []
    for lm in lambdas:
        p1, p2 = members[f"L1-λ{lm:g}"], members[f"L2-λ{lm:g}"]
        pairs.append((p2["D"], p2["R"], p1["D"], p1["R"]))
    return {"x": x, "lambdas": lambdas, **_ratios(x, pairs, degree)}


def relative_performance_along_x(bank: TrainedBank, *, n: int = 3500, x_max: float = 35.0, window: float = 0.5,
                                 degree: int = 20) -> dict[str, object]:
    """Relative performance ``P_L2 / P_L1`` along ``(x, 0), x in [0, x_max]`` (Fig. 4 left, Fig. 14), pairing
    the ``L1`` and ``L2`` members with the same lambda: :func:`relative_from_profiles` of :func:`line_profiles`."""
    return relative_from_profiles(line_profiles(bank, n=n, x_max=x_max, window=window), degree=degree)


def rate_matched_relative(profiles, rates: list[dict], *, degree: int = 20) -> dict[str, object]:
    """Fig. 4 (left) at equal rate: each ``L2`` member against the ``L1`` family interpolated to its coded rate.

    Pairing networks trained with the same lambda (:func:`relative_from_profiles`) does not give the "similar rate
    ranges" the paper tunes its lambdas for: where the weighted loss moves a network to a lower
    rate, eq. 12's ``D / R`` is not neutral to that move, so part of the ratio is a rate difference, not a
    re-allocation. Here each ``L2`` member with coded rate ``r`` (``rates``: :func:`member_rates`'s rows, bits
    per sample from the real bitstream) is compared with the two ``L1`` members whose coded rates bracket
    ``r``: per window, their ``log D`` and their ``R`` are interpolated linearly in the coded rate, at weight
    ``w = (r - r_a) / (r_b - r_a)`` (log-linear in ``D`` is exact where distortion falls exponentially with
    rate, ``D ~ 2^(-c R)``, as at high rate); ``P_L1 = D / R`` of that interpolant. ``L2`` members outside the ``L1``
    family's rate range are not extrapolated: they are listed in ``skipped``. Returns ``x``, the ``lambdas``
    of the compared ``L2`` members, their coded ``bits``, the bracketing members (``between``), ``raw``,
    ``fit``, ``mean_raw``, ``mean_fit`` and ``skipped``.
    """
    members = profiles["members"]
    bits = {r["member"]: float(r["bits_per_sample"]) for r in rates}
    l1 = sorted((name for name in members if name.startswith("L1-")), key=bits.__getitem__)
    r1 = np.array([bits[name] for name in l1])
    if len(l1) < 2 or np.any(np.diff(r1) <= 0):
        raise ValueError(f"need at least two L1 members with distinct coded rates, got {dict(zip(l1, r1))}")
    l2 = sorted((name for name in members if name.startswith("L2-")), key=lambda name: float(name[len("L2-λ"):]))
    x = np.asarray(profiles["x"], dtype=float)
    pairs, lambdas, used_bits, between, skipped = [], [], [], [], []
    for name in l2:
        r = bits[name]
        if not r1[0] <= r <= r1[-1]:
            skipped.append(name)
            continue
        b = int(min(max(np.searchsorted(r1, r, side="left"), 1), len(r1) - 1))
        a = b - 1
        w = (r - r1[a]) / (r1[b] - r1[a])
        pa, pb = members[l1[a]], members[l1[b]]
        d1 = np.exp((1 - w) * np.log(np.asarray(pa["D"], dtype=float)) + w * np.log(np.asarray(pb["D"], dtype=float)))
        rr1 = (1 - w) * np.asarray(pa["R"], dtype=float) + w * np.asarray(pb["R"], dtype=float)
        p2 = members[name]
        pairs.append((np.asarray(p2["D"], dtype=float), np.asarray(p2["R"], dtype=float), d1, rr1))
        lambdas.append(float(name[len("L2-λ"):]))
        used_bits.append(r)
        between.append([l1[a], l1[b]])
    if not pairs:
        raise ValueError(f"no L2 member codes within the L1 family's range {r1[0]:.3g}-{r1[-1]:.3g} bits: "
                         f"nothing to compare (L2 rates: {', '.join(f'{bits[n]:.3g}' for n in l2)})")
    return {"x": x, "lambdas": lambdas, "bits": used_bits, "between": between, **_ratios(x, pairs, degree),
            "skipped": skipped}


def compare_pairings(equal_lambda, equal_rate) -> tuple[list[dict], dict]:
    """Fig. 4 (left) paired by equal lambda (:func:`relative_from_profiles`) beside the same bank at equal coded
    rate (:func:`rate_matched_relative`). Returns one row per compared ``L2`` member (its lambda, coded bits,
    the ``L1`` members on either side, the centre ratio both ways) and one summary row: the equal-lambda centre
    mean over the *same* members, the equal-rate centre mean (arithmetic and geometric), both tail medians and
    the members not compared."""
    se, sm = fig4_summary(equal_lambda), fig4_summary(equal_rate)
    eq_centre = {float(lm): float(v) for lm, v in zip(equal_lambda["lambdas"], se["centre_per_lambda"])}
    rows = [{"L2 λ": lm, "L2 bits": b, "L1 on either side": f"{lo}, {hi}", "centre, equal λ": eq_centre.get(lm, np.nan),
             "centre, equal rate": float(v)}
            for lm, b, (lo, hi), v in zip(equal_rate["lambdas"], equal_rate["bits"], equal_rate["between"],
                                          sm["centre_per_lambda"])]
    summary = {"centre, equal λ (same members)": float(np.mean([eq_centre.get(lm, np.nan) for lm in equal_rate["lambdas"]])),
               "centre, equal rate": sm["centre_mean"], "geometric, equal rate": sm["centre_geomean"],
               "tail, equal λ": se["tail_median"], "tail, equal rate": sm["tail_median"],
               "not compared": ", ".join(equal_rate["skipped"]) or "-"}
    return rows, summary


def compare_banks(banks) -> tuple[list[dict], list[dict]]:
    """:func:`compare_pairings` for several banks: ``banks`` holds ``(label, equal-lambda result, equal-rate
    result)`` (arrays, or their JSON lists as a record stores them). Returns the rows of every compared member
    and one summary row per bank, each beginning with its ``"bank"`` label."""
    members, summaries = [], []
    for label, equal_lambda, equal_rate in banks:
        rows, summary = compare_pairings(equal_lambda, equal_rate)
        members += [{"bank": label, **r} for r in rows]
        summaries.append({"bank": label, **summary})
    return members, summaries


def fig4_summary(rel, *, centre_below: float = 1.0, tail_above: float = 5.0) -> dict[str, object]:
    """The numbers the chapter reads off Fig. 4 (left) for a result of :func:`relative_performance_along_x`
    (or its JSON form, or :func:`as_printed_eq13`'s).

    ``centre_per_lambda``: each pair's mean ratio over the windows with ``x < centre_below``;
    ``centre_mean``: their mean, the "average across rates" at the centre (paper: 0.86);
    ``tail_median``: the median over the windows with ``x > tail_above`` of the mean over rates (paper: above
    1, a loss); ``fit_min``/``fit_min_x``: the lowest value of the mean polynomial fit and where it lies.
    ``centre_geomean``/``tail_geomedian``: the same with geometric means (over windows and rates at the
    centre; over rates in each tail window, then the median). Arithmetic means of ratios that spread over
    orders of magnitude are not symmetric under inverting the ratio (a ratio and its reciprocal can both
    average above 1); geometric means are (inverting every ratio inverts them exactly).
    """
    x = np.asarray(rel["x"], dtype=float)
    raw, fit = np.asarray(rel["raw"], dtype=float), np.asarray(rel["fit"], dtype=float)
    centre, tail = x < centre_below, x > tail_above
    if not centre.any() or not tail.any():
        raise ValueError(f"no window below x = {centre_below} or above x = {tail_above} (windows span "
                         f"{x.min():g} to {x.max():g})")
    per_lambda = raw[:, centre].mean(1)
    mean_raw, mean_fit = raw.mean(0), fit.mean(0)
    i = int(np.argmin(mean_fit))
    with np.errstate(divide="ignore"):
        log_raw = np.log(raw)
    return {"centre_per_lambda": per_lambda, "centre_mean": float(mean_raw[centre].mean()),
            "tail_median": float(np.median(mean_raw[tail])), "fit_min": float(mean_fit[i]), "fit_min_x": float(x[i]),
            "centre_geomean": float(np.exp(log_raw[:, centre].mean())),
            "tail_geomedian": float(np.exp(np.median(log_raw[:, tail].mean(0))))}


def as_printed_eq13(rel, *, degree: int = 20) -> dict[str, object]:
    """Fig. 4 (left) with eq. 13 read exactly as appendix C prints it: ``P1 / P2``, ``P1`` the network trained
    with ``L1 = R + lambda D`` (eq. 9), ``P2`` the one trained with ``L2`` (eq. 10), ``P = D / R`` (eq. 12).

    Sec. 5.1 describes the opposite quotient (the weighted network's performance divided by the plain one's,
    "below 1.0 means a performance gain using the probability"), which is what
    :func:`relative_performance_along_x` computes; appendix D.1 again cites eq. 13 with ``P1`` the MSE network
    while D.2 puts the MS-SSIM network in the numerator. This returns ``rel`` with every windowed ratio
    inverted and the degree-``degree`` fits redone on the inverted values (the fit of a reciprocal is not the
    reciprocal of the fit). Read this way, values below 1 mean the *plain* network does better.
    """
    x = np.asarray(rel["x"], dtype=float)
    raw = 1.0 / np.asarray(rel["raw"], dtype=float)
    fit = np.array([polynomial_smooth(x, r, degree) for r in raw])
    return {"x": x, "lambdas": [float(v) for v in rel["lambdas"]], "raw": raw, "fit": fit,
            "mean_raw": raw.mean(0), "mean_fit": fit.mean(0)}


def without_collapsed_pairs(rel: dict, rates: list[dict], *, min_bits: float = 0.05) -> tuple[dict, list[float]]:
    """Fig. 4 (left) without the ``L1``/``L2`` pairs whose weighted member collapsed to (almost) zero rate.

    With ``gamma = 1`` the weight is the density divided by its mean (``normalise_weights``): 3.0 at the mode, but
    0.75 at its median over Student-t samples and below 0.1 for 18 % of them (the normalised ``p(x)^0.1``: median
    1.04), so at the lowest lambdas the weighted distortion is too cheap for the rate term: the ``L2`` member
    maps every sample to one code, its coded rate is little more than the header and ``P = D / R`` divides by
    about zero. ``rel`` is
    :func:`relative_performance_along_x`'s result (or its JSON form), ``rates`` :func:`member_rates`'s. Returns
    ``rel`` restricted to the pairs whose ``L2`` member codes at least ``min_bits`` bits per sample, with the
    means over rates recomputed, and the dropped lambdas.
    """
    bits = {r["member"]: r["bits_per_sample"] for r in rates}
    lambdas = [float(v) for v in rel["lambdas"]]
    keep = [i for i, lm in enumerate(lambdas) if bits[f"L2-λ{lm:g}"] >= min_bits]
    if not keep:
        raise ValueError(f"every L2 member codes fewer than {min_bits} bits per sample: nothing to compare")
    raw, fit = np.asarray(rel["raw"], dtype=float)[keep], np.asarray(rel["fit"], dtype=float)[keep]
    out = {"x": np.asarray(rel["x"], dtype=float), "lambdas": [lambdas[i] for i in keep], "raw": raw, "fit": fit,
           "mean_raw": raw.mean(0), "mean_fit": fit.mean(0)}
    return out, [lm for i, lm in enumerate(lambdas) if i not in keep]


def across_seeds(records: list[dict]) -> dict[str, object]:
    """Fig. 2 and Fig. 4 (left) over several banks that differ only in their seed.

    ``records`` are the JSON records written by ``benchmarks/ch2_study2d.py`` (one per seed; their
    ``config`` must be identical). Returns the seeds, the lambdas of the ``L1``/``L2`` pairs (ascending),
    arrays of shape ``(n_seeds, n_lambdas)`` for the coded rate of the ``L1`` member (``bits``), its
    correlations (``rho_Ds``, ``rho_Dr``, ``rho_Din``) and the Fig. 4 centre ratio per lambda
    (``centre_ratio``), and per seed the centre ratio averaged over rates (``centre_mean``, the number
    the paper reports as 0.86) and the median tail ratio (``tail_median``). ``mean``/``sd`` hold the
    mean and sample standard deviation over seeds of each array (per lambda) and of ``centre_mean``.
    """
    if len(records) < 2:
        raise ValueError(f"across_seeds needs at least 2 records, got {len(records)}")
    cfg0 = records[0]["config"]
    for r in records[1:]:
        diff = sorted(k for k in set(cfg0) | set(r["config"]) if cfg0.get(k) != r["config"].get(k))
        if diff:
            raise ValueError(f"the records differ in more than their seed: config keys {diff}")
    seeds = [int(r["seed"]) for r in records]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"repeated seeds: {seeds}")
    lambdas = sorted(float(v) for v in cfg0["lambdas"])
    out: dict[str, object] = {"seeds": seeds, "lambdas": lambdas}
    arrays: dict[str, list[list[float]]] = {k: [] for k in ("bits", "rho_Ds", "rho_Dr", "rho_Din", "centre_ratio")}
    for r in records:
        bits = {row["member"]: row["bits_per_sample"] for row in r["rates"]}
        corr = {row["lambda"]: row for row in r["correlations"] if row["family"] == "L1"}
        per_lambda = {float(k): v for k, v in r["summary"]["fig4_centre_ratio_per_lambda"].items()}
        arrays["bits"].append([bits[corr[lm]["member"]] for lm in lambdas])
        for k in ("rho_Ds", "rho_Dr", "rho_Din"):
            arrays[k].append([corr[lm][k] for lm in lambdas])
        arrays["centre_ratio"].append([per_lambda[lm] for lm in lambdas])
    out.update({k: np.asarray(v, dtype=float) for k, v in arrays.items()})
    out["centre_mean"] = np.asarray([r["summary"]["fig4_centre_ratio"] for r in records], dtype=float)
    out["tail_median"] = np.asarray([r["summary"]["fig4_tail_median_ratio"] for r in records], dtype=float)
    keys = (*arrays, "centre_mean", "tail_median")
    out["mean"] = {k: np.mean(out[k], axis=0) for k in keys}
    out["sd"] = {k: np.std(out[k], axis=0, ddof=1) for k in keys}
    return out
