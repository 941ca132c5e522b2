"""The Hub side of goat-datasets: publishing tagged versions (``client``), the dataset card (``card``) and a local
Hub server for offline work (``server``; olah for reads plus a small write layer, over bare git repos).

Import the submodules directly; this package imports nothing so that ``goat_datasets.hub.card`` stays light.
"""
