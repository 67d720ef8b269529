"""The documentation covers what the code has: every config key and every registered method."""

from inference_lab.modes.methods.config import MethodsConfig as InferenceConfig
from inference_lab.modes.methods.registry import REGISTRY

from .conftest import REPO

GUIDE = (REPO / "DETAILED_GUIDE.md").read_text()
README = (REPO / "README.md").read_text()


def test_every_config_key_is_documented():
    missing = [key for key in InferenceConfig.model_fields if f"`{key}`" not in GUIDE]
    assert not missing


def test_every_method_and_variant_is_documented():
    for name in [*REGISTRY.methods, *REGISTRY.variants]:
        assert f"`{name}`" in GUIDE or f"_{name}`" in GUIDE, name


def test_readme_opens_with_the_two_commands():
    commands = [line.split("#")[0].strip() for line in README.split("```bash", 1)[1].split("```", 1)[0].splitlines()
                if line.strip()]
    assert commands == ["./run.sh quick", "./run.sh test"]
