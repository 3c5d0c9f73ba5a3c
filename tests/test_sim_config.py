"""``scanner.sim.config``: SynthConfig validation, loading with overrides, and the seeded generators."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.errors import UsageError
from scanner.sim.config import SynthConfig, load_synth_config, seeded_rng


@pytest.mark.parametrize("size", [-5, 0, 149])
def test_bad_sizes_raise_a_clear_usage_error(size):
    with pytest.raises(UsageError, match="size_px.*at least 150"):
        SynthConfig(size_px=size)


def test_other_bad_values_raise_usage_errors():
    with pytest.raises(UsageError, match="passes"):
        SynthConfig(passes=("sideways",))
    with pytest.raises(UsageError, match="areas"):
        SynthConfig(scenes=2, areas=3)
    with pytest.raises(UsageError, match="low <= high"):
        SynthConfig(turbulence_rms_m=(0.03, 0.005))


def test_load_applies_overrides_then_flags(tmp_path):
    config = load_synth_config(overrides=["areas=2", "seed=3"], scenes=5, seed=9)
    assert (config.areas, config.scenes, config.seed, config.size_px) == (2, 5, 9, SynthConfig().size_px)
    path = tmp_path / "synth.py"
    path.write_text(
        "from scanner.sim.config import SynthConfig\n\ndef get_config():\n    return SynthConfig(scenes=6)\n"
    )
    assert load_synth_config(path, ["areas=3"], size_px=200) == SynthConfig(scenes=6, areas=3, size_px=200)


def test_load_rejects_a_config_file_of_another_type(tmp_path):
    path = tmp_path / "other.py"
    path.write_text("def get_config():\n    return {'size_px': 300}\n")
    with pytest.raises(UsageError, match="SynthConfig"):
        load_synth_config(path)


def test_seeded_generators_depend_on_seed_and_path_only():
    config = SynthConfig(seed=4)
    first = seeded_rng(config, 0, 1).random(3)
    np.testing.assert_array_equal(first, seeded_rng(config, 0, 1).random(3))
    assert not np.array_equal(first, seeded_rng(config, 0, 2).random(3))
    assert not np.array_equal(first, seeded_rng(SynthConfig(seed=5), 0, 1).random(3))
    assert config.first_acquisition_date.isoformat() == config.first_acquisition


def test_an_override_is_checked_against_the_flags():
    """``--scenes 24 --set areas=6`` is valid: the override is checked with 24 scenes, not the default 4."""
    config = load_synth_config(None, ["areas=6"], scenes=24)
    assert (config.scenes, config.areas) == (24, 6)
    with pytest.raises(UsageError, match="areas"):
        load_synth_config(None, ["areas=6"], scenes=5)
