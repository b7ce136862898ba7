"""Yi's cluster-based filter: the documents of semantic clusters a reviewer labelled ``drop`` are
removed as ``cluster:<id>``.

It runs in finalize, after the global dedup, on the ``cluster`` column finalize joins from the
labelled run's side table: a dropped page's duplicates were removed as duplicates, so none of
them comes back as a new survivor. A document the labelled run did not cluster (a new one) stays.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.stages import Stage, with_decisions

#: The column finalize joins from the labelled run's side table (null: not clustered there).
CLUSTER = "cluster"


class ClusterLabelStage(Stage):
    name = "cluster_labels"

    def __init__(self, dropped: frozenset[int]):
        self.dropped = dropped

    def __call__(self, batch: pa.Table) -> pa.Table:
        clusters = (
            batch.column(CLUSTER) if CLUSTER in batch.column_names else pa.nulls(batch.num_rows, pa.int32())
        )
        dropped = pc.is_in(clusters, value_set=pa.array(sorted(self.dropped), clusters.type))
        reasons = pc.if_else(
            pc.fill_null(dropped, False),
            pc.binary_join_element_wise("cluster:", pc.cast(clusters, pa.string()), ""),
            pa.scalar(None, pa.string()),
        )
        return with_decisions(batch, removed=reasons)
