"""Quality checks of the context policies on real data; prints the tables in docs/evaluation/context.md.

    /work/venv/bin/python benchmarks/evaluate_context.py [--data-dir ../shared/data]

1. Weather, out of sample: the season-suitability model is relearned on H&M sales up to
   2019-09-30 (plus Myntra labels); on each later week, do the product types it ranks as more
   suitable for that week's typical temperature sell a larger share than usual? (Spearman per week.)
2. Weather, on a ranked list: the 200 best-selling H&M articles re-ranked by ContextBoost at
   28 °C (Shanghai) and 2 °C (Berlin): share of summer and winter types in the top 24.
3. Niche styles: H&M shoppers whose main garment group is rare vs the majority; recall@12 of a
   plain popularity x type-affinity ranking and of the same ranking diversified with MMR.
4. Rare sizes: RentTheRunway rentals; hit rate@12 of a plain popularity list vs the same list with
   in-size items first (InStockFilter), for shoppers with rare sizes vs common sizes.
5. The simulated shop (fitloop.evaluate.simulator, whose hidden utility knows each shopper's taste,
   size and the weather): mean true utility of the top 12 of a popularity list, plain vs
   ContextBoost at the real weather, at a forced 28 °C and at 2 °C; MMR for shoppers of the rarest
   style vs the rest; share of the top 12 in stock in the shopper's size, rare vs common sizes.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import date

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from fitloop.catalog import ItemFeatures, SuitabilityModel, learn_suitability, type_key
from fitloop.context.weather import week_temperatures
from fitloop.data import Context, Item, ScoredItem, Variant
from fitloop.datasets import hm, myntra, rtr
from fitloop.rerank.context_boost import ContextBoost
from fitloop.rerank.diversity import MMRDiversifier, intra_list_similarity
from fitloop.rerank.policy import InStockFilter

SUMMER = {"Shorts", "Dress", "Sandals", "Vest top", "Swimwear bottom", "Bikini top", "Swimsuit", "Skirt",
          "Heeled sandals", "Sunglasses"}
WINTER = {"Coat", "Jacket", "Sweater", "Boots", "Hat/beanie", "Scarf", "Gloves", "Cardigan", "Hoodie"}


def stockholm_weeks() -> dict[int, float]:
    return week_temperatures("Stockholm")


def hm_items(arts: pd.DataFrame) -> dict[str, Item]:
    return {r.article_id: Item(r.article_id, r.prod_name, r.product_group_name, r.product_type_name, 0.0,
                               colour=r.colour_group_name, pattern=r.graphical_appearance_name,
                               style=r.garment_group_name, product_code=r.product_code, description=r.detail_desc)
            for r in arts.itertuples()}


def weather_out_of_sample(styles: pd.DataFrame, tx: pd.DataFrame, arts: pd.DataFrame, weeks: dict[int, float]) -> None:
    cut = pd.Timestamp("2019-10-01")
    model = learn_suitability(styles, tx[tx.t_dat < cut], arts, weeks)
    test = tx[tx.t_dat >= cut].merge(arts[["article_id", "product_type_name"]], on="article_id")
    test["type"] = test.product_type_name.map(type_key)
    test["yw"] = test.t_dat.dt.strftime("%G-%V")
    test["week"] = test.t_dat.dt.isocalendar().week.astype(int).clip(upper=52)
    counts = pd.crosstab(test.yw, test.type)
    keep = [t for t in counts.columns if counts[t].sum() >= 50 and t in model.types]
    counts = counts[keep]
    overall = counts.sum() / counts.values.sum()
    rhos, rhos_myntra = [], []
    my_only = learn_suitability(styles, None, None)
    for yw, row in counts.iterrows():
        week = int(test.loc[test.yw == yw, "week"].iloc[0])
        t = weeks[week]
        lift = np.log((row / row.sum() + 1e-4) / overall)
        pred = [model.types[k] * (t - model.config.pivot_c) for k in keep]
        rhos.append(spearmanr(pred, lift).statistic)
        pred_m = [my_only.types.get(k, 0.0) * (t - 15) for k in keep]
        rhos_myntra.append(spearmanr(pred_m, lift).statistic)
    print(f"\n1. Weather out of sample: {len(counts)} test weeks (2019-10..2020-06), {len(keep)} product types")
    print(f"   mean Spearman(predicted suitability, weekly sales-share lift): H&M≤2019-09 + Myntra {np.mean(rhos):.3f}"
          f"   Myntra labels only {np.nanmean(rhos_myntra):.3f}   (0 = no better than chance)")
    print(f"   weeks with a positive correlation: {np.mean(np.array(rhos) > 0):.0%}")


def weather_on_a_list(tx: pd.DataFrame, items: dict[str, Item]) -> None:
    top = tx.article_id.value_counts().head(200)
    cands = [ScoredItem(a, float(c)) for a, c in top.items() if a in items]
    boost = ContextBoost(items, SuitabilityModel.default())
    print("\n2. ContextBoost on the 200 best-selling H&M articles: share of the top 24")
    print(f"   {'list':28} {'summer types':>12} {'winter types':>12}")

    def shares(ids: list[str]) -> tuple[float, float]:
        types = [items[i].article_type for i in ids]
        return sum(t in SUMMER for t in types) / len(ids), sum(t in WINTER for t in types) / len(ids)

    s, w = shares([c.item_id for c in cands[:24]])
    print(f"   {'plain (best sellers)':28} {s:12.0%} {w:12.0%}")
    for label, ctx in (("28 °C Shanghai", Context(city="Shanghai", temperature_c=28.0)),
                       ("2 °C Berlin", Context(city="Berlin", temperature_c=2.0))):
        out = boost.rerank(ctx, cands, 24)
        s, w = shares([o.item_id for o in out])
        print(f"   {label:28} {s:12.0%} {w:12.0%}")
        if label.startswith("28"):
            ex = next(o for o in out if o.reason)
            print(f"   e.g. {items[ex.item_id].title!r}: {ex.reason}")


def niche_styles(tx: pd.DataFrame, arts: pd.DataFrame, items: dict[str, Item]) -> None:
    cut = pd.Timestamp("2020-05-01")
    a = arts.set_index("article_id")
    train, test = tx[tx.t_dat < cut], tx[tx.t_dat >= cut]
    group = train.article_id.map(a.garment_group_name)
    share = group.value_counts(normalize=True).sort_values()
    rare_groups = set(share.index[share.cumsum() <= 0.25])
    recent = train[train.t_dat >= cut - pd.Timedelta(weeks=8)]
    pop = recent.article_id.value_counts().head(400)
    pool = [i for i in pop.index if i in items]
    pop_score = (pop / pop.max()).reindex(pool).to_numpy()
    pool_type = np.array([items[i].article_type for i in pool])
    feats = ItemFeatures.fit([items[i] for i in pool])
    mmr = MMRDiversifier(feats, 0.7)
    truth = test.groupby("customer_id").article_id.apply(set)
    hist = train.assign(t=train.article_id.map(a.product_type_name), g=group)
    rows = []
    for cid, bought in truth.items():
        h = hist[hist.customer_id == cid]
        if h.empty:
            continue
        main_group = h.g.value_counts().index[0]
        aff = h.t.value_counts(normalize=True)
        score = pop_score * (1 + 5 * pd.Series(pool_type).map(aff).fillna(0).to_numpy())
        order = np.argsort(-score)[:100]
        cands = [ScoredItem(pool[j], float(score[j])) for j in order]
        plain = [c.item_id for c in cands[:12]]
        div = [c.item_id for c in mmr.rerank(Context(), cands, 12)]
        rows.append({"niche": main_group in rare_groups, "plain": len(set(plain) & bought) / min(len(bought), 12),
                     "mmr": len(set(div) & bought) / min(len(bought), 12),
                     "ils_plain": intra_list_similarity(plain, mmr.similarity),
                     "ils_mmr": intra_list_similarity(div, mmr.similarity)})
    df = pd.DataFrame(rows)
    print(f"\n3. Niche styles (H&M; train < 2020-05-01, test 2020-05-01..06-30; rare garment groups = the least-bought"
          f" 25 % of purchases: {sorted(rare_groups)})")
    print(f"   {'shoppers':22} {'n':>5} {'recall@12 plain':>16} {'recall@12 MMR':>14} {'list sim plain':>15} {'list sim MMR':>13}")
    for label, sub in (("niche main style", df[df.niche]), ("majority", df[~df.niche]), ("all", df)):
        print(f"   {label:22} {len(sub):5d} {sub.plain.mean():16.4f} {sub.mmr.mean():14.4f} "
              f"{sub.ils_plain.mean():15.3f} {sub.ils_mmr.mean():13.3f}")


def rare_sizes(data_dir: str | None) -> None:
    r = rtr.load_rentals(data_dir)
    cut = pd.Timestamp("2016-07-01")
    train, test = r[r.review_date < cut], r[r.review_date >= cut]
    share = train["size"].value_counts(normalize=True).sort_values()
    rare = set(share.index[share.cumsum() <= 0.10])
    recent = train[train.review_date >= cut - pd.Timedelta(days=365)]
    pop = recent.item_id.value_counts().head(300)
    sizes_of = train.groupby("item_id")["size"].apply(lambda s: sorted(set(s.astype(str))))
    catalog = {i: Item(i, i, "dress", "Dress", 0.0, variants=tuple(Variant(z, 1) for z in sizes_of.get(i, [])))
               for i in pop.index}
    cands = [ScoredItem(i, float(c)) for i, c in pop.items()]
    plain_top = {c.item_id for c in cands[:12]}
    filt = InStockFilter(catalog)
    cache: dict[str, set[str]] = {}
    rows = []
    for size, item in zip(test["size"].astype(str), test.item_id, strict=True):
        if size not in cache:
            cache[size] = {c.item_id for c in filt.rerank(Context(extra={"size": size}), cands, 12)}
        rows.append({"rare": int(size) in rare, "plain": item in plain_top, "in_size": item in cache[size]})
    df = pd.DataFrame(rows)
    in_size_share: Counter[str] = Counter()
    for size in cache:
        in_size_share[size] = sum(size in (v.size for v in catalog[i].variants) for i in plain_top) / 12
    print(f"\n4. Rare sizes (RentTheRunway; train < 2016-07-01, test 2016-07..12, {len(df)} test rentals; rare sizes ="
          f" the least-rented 10 % of rentals: {len(rare)} sizes)")
    print(f"   {'shoppers':18} {'rentals':>8} {'hit@12 plain':>13} {'hit@12 in-size first':>21} {'plain top-12 in their size':>27}")
    for label, sub, sizes in (("rare sizes", df[df.rare], [s for s in cache if int(s) in rare]),
                              ("common sizes", df[~df.rare], [s for s in cache if int(s) not in rare])):
        print(f"   {label:18} {len(sub):8d} {sub.plain.mean():13.4f} {sub.in_size.mean():21.4f} "
              f"{np.mean([in_size_share[s] for s in sizes]):27.0%}")


def simulated_shop(seed: int = 11) -> None:
    from fitloop.evaluate.simulator.config import ShopConfig
    from fitloop.evaluate.simulator.shop import SimulatedShop

    shop = SimulatedShop.generate(ShopConfig(n_items=1500, n_shoppers=400, n_events=60_000, n_days=30, seed=seed))
    items = {i.item_id: i for i in shop.items}
    f = shop.events.frame
    day = shop.config.n_days  # the first day after the logged history
    launched = set(shop.item_ids(day))
    engaged = f[f.type.isin(["product_clicked", "cart_added", "order_completed"])]
    pop = engaged.item_id.value_counts()
    pool = [i for i in pop.index if i in launched and items[i].in_stock()][:150]
    cands = [ScoredItem(i, float(pop[i])) for i in pool]
    boost = ContextBoost(items, SuitabilityModel.default())
    users = [u.user_id for u in shop.shoppers]
    print(f"\n5. Simulated shop (seed {seed}: 1,500 items, 400 shoppers, 30 days of history; top-150 popular candidates)")
    print(f"   {'weather':22} {'true utility@12 plain':>22} {'ContextBoost':>13}")
    for label, forced in (("real (per city/day)", None), ("forced 28 °C", 28.0), ("forced 2 °C", 2.0)):
        plain_u, boost_u = [], []
        for u in users:
            ctx = shop.context(u, day)
            if forced is not None:
                ctx = Context(city=ctx.city, day=ctx.day, temperature_c=forced, rain_mm=0.0)
            top = [c.item_id for c in cands[:12]]
            out = [c.item_id for c in boost.rerank(ctx, cands, 12)]
            plain_u.append(shop.true_utility(u, top, day, ctx).mean())
            boost_u.append(shop.true_utility(u, out, day, ctx).mean())
        print(f"   {label:22} {np.mean(plain_u):22.3f} {np.mean(boost_u):13.3f}")
    # Niche style: each shopper's main style from their clicks; the rarest main style is "niche".
    clicks = f[f.type == "product_clicked"]
    main_style = clicks.assign(style=clicks.item_id.map(lambda i: items[i].style)).groupby("user_id").style.agg(
        lambda s: s.value_counts().index[0])
    counts = main_style.value_counts()
    niche = set(counts.index[counts.cumsum() >= counts.sum() * 0.8])  # styles of the last 20 % of shoppers
    feats = ItemFeatures.fit(items.values())
    for lam in (0.7, 0.5):
        mmr = MMRDiversifier(feats, lam)
        rows = []
        for u, st in main_style.items():
            ctx = shop.context(str(u), day)
            top = [c.item_id for c in cands[:12]]
            div = [c.item_id for c in mmr.rerank(ctx, cands, 12)]
            rows.append({"niche": st in niche, "plain": shop.true_utility(str(u), top, day, ctx).mean(),
                         "mmr": shop.true_utility(str(u), div, day, ctx).mean(),
                         "style_plain": sum(items[i].style == st for i in top) / 12,
                         "style_mmr": sum(items[i].style == st for i in div) / 12})
        df = pd.DataFrame(rows)
        if lam == 0.7:
            print(f"   niche styles = main style among the last 20 % of shoppers: {sorted(niche)}")
            print(f"   {'shoppers':16} {'lambda':>6} {'n':>4} {'utility plain':>14} {'utility MMR':>12} "
                  f"{'own style plain':>16} {'own style MMR':>14}")
        for label, sub in (("niche style", df[df.niche]), ("majority", df[~df.niche])):
            print(f"   {label:16} {lam:6.1f} {len(sub):4d} {sub.plain.mean():14.3f} {sub.mmr.mean():12.3f} "
                  f"{sub.style_plain.mean():16.1%} {sub.style_mmr.mean():14.1%}")
    orders = f[(f.type == "order_completed") & f["size"].notna()]
    size_of = orders.groupby("user_id")["size"].agg(lambda s: s.value_counts().index[0])
    size_share = size_of.value_counts(normalize=True)
    rare_sizes = set(size_share.index[size_share < 0.08])
    filt = InStockFilter(items)
    rows = []
    for _u, size in size_of.items():
        top = [c.item_id for c in cands[:12]]
        out = [c.item_id for c in filt.rerank(Context(extra={"size": size}), cands, 12)]
        rows.append({"rare": size in rare_sizes, "plain": np.mean([items[i].in_stock(size) for i in top]),
                     "filtered": np.mean([items[i].in_stock(size) for i in out])})
    df = pd.DataFrame(rows)
    print(f"   sizes of shoppers (most ordered): {size_share.round(3).to_dict()}; rare = under 8 %: {sorted(rare_sizes)}")
    print(f"   {'shoppers':16} {'n':>4} {'top-12 in their size, plain':>28} {'in-size first':>14}")
    for label, sub in (("rare sizes", df[df.rare]), ("common sizes", df[~df.rare])):
        print(f"   {label:16} {len(sub):4d} {sub.plain.mean():28.1%} {sub.filtered.mean():14.1%}")


def weather_across_seeds(seeds: tuple[int, ...] = (1, 2, 3, 4, 5, 6)) -> None:
    from fitloop.evaluate.simulator.config import ShopConfig
    from fitloop.evaluate.simulator.shop import SimulatedShop

    print("\n6. ContextBoost on small simulated shops (400 items, 60 shoppers): true utility@12 boosted - plain")
    print(f"   {'seed':>4} {'28 °C':>7} {'2 °C':>7}")
    for seed in seeds:
        shop = SimulatedShop.generate(ShopConfig(n_items=400, n_shoppers=60, n_events=8_000, n_days=14, seed=seed))
        items = {i.item_id: i for i in shop.items}
        day = shop.config.n_days
        f = shop.events.frame
        pop = f[f.type.isin(["product_clicked", "cart_added", "order_completed"])].item_id.value_counts()
        launched = set(shop.item_ids(day))
        pool = [i for i in pop.index if i in launched and items[i].in_stock()][:120]
        cands = [ScoredItem(i, float(pop[i])) for i in pool]
        boost = ContextBoost(items)
        deltas = []
        for temp in (28.0, 2.0):
            d = []
            for u in (s.user_id for s in shop.shoppers):
                ctx = Context(city=shop.context(u, day).city, temperature_c=temp, rain_mm=0.0)
                d.append(shop.true_utility(u, [c.item_id for c in boost.rerank(ctx, cands, 12)], day, ctx).mean()
                         - shop.true_utility(u, [c.item_id for c in cands[:12]], day, ctx).mean())
            deltas.append(float(np.mean(d)))
        print(f"   {seed:4d} {deltas[0]:+7.3f} {deltas[1]:+7.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    t0 = time.time()
    styles = myntra.load_styles(args.data_dir)
    tx = hm.load_transactions(args.data_dir)
    arts = hm.load_articles(args.data_dir)
    arts = arts[arts.article_id.isin(set(tx.article_id))]
    items = hm_items(arts)
    weather_out_of_sample(styles, tx, arts, stockholm_weeks())
    weather_on_a_list(tx, items)
    niche_styles(tx, arts, items)
    rare_sizes(args.data_dir)
    simulated_shop()
    weather_across_seeds()
    print(f"\n(run on {date.today().isoformat()}, {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
