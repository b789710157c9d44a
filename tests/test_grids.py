"""Training image grids: layout source | driver | raw (nearest-upsampled) | output, one row per example."""

import torch

from export3d.training.grids import grid_image, save_grid


def test_grid_layout_and_values(tmp_path):
    s, r = 8, 2
    src = torch.full((3, 3, s, s), -1.0)
    drv = torch.full((3, 3, s, s), 1.0)
    raw = torch.zeros(3, 3, r, r)
    raw[:, 0, 0, 0] = 1.0  # top-left raw pixel red-ish -> a 4x4 block after nearest upsampling
    out = torch.linspace(-1, 1, 3).view(3, 1, 1, 1).expand(3, 3, s, s)
    g = grid_image(src, drv, raw, out, rows=2)
    assert g.shape == (2 * s, 4 * s, 3) and g.dtype.name == "uint8"
    assert (g[:, :s] == 0).all() and (g[:, s:2 * s] == 255).all()
    assert (g[:4, 2 * s:2 * s + 4, 0] == 255).all() and (g[4:s, 2 * s:2 * s + 4, 0] == 128).all()
    assert (g[:s, 3 * s:] == 0).all() and (g[s:, 3 * s:] == 128).all()  # rows = examples 0 and 1
    path = save_grid(tmp_path / "a" / "g.png", src, drv, raw, out)
    assert path.is_file()


def test_training_curves_from_a_log(tmp_path):
    import numpy as np

    from export3d.training.curves import plot_log, read_log, smooth

    log = tmp_path / "log.csv"
    log.write_text("step,loss,adv,seconds\n50,1.0,0,1\n100,0.9,0,2\n100,0.5,0,1\n150,0.25,0,3\n")  # 100 resumed
    cols = read_log(log)
    assert cols["step"].tolist() == [50, 100, 150] and cols["loss"].tolist() == [1.0, 0.5, 0.25]
    np.testing.assert_allclose(smooth(cols["loss"], 2), [1.0, 0.75, 0.375])
    assert plot_log(log, tmp_path / "c.png").stat().st_size > 1000
