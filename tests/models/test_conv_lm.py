import pytest
import torch

from attnkit.config.model import ModelConfig
from attnkit.models.conv_lm import ConvLanguageModel, receptive_field
from attnkit.models.factory import build_model


def _model(**kw) -> ConvLanguageModel:
    torch.manual_seed(0)
    cfg = ModelConfig(arch="cnn", vocab_size=20, d_model=16, n_heads=1, n_layers=3, **kw)
    m = build_model(cfg, "decoder")
    assert isinstance(m, ConvLanguageModel)
    return m.eval()


def test_receptive_field_formula():
    assert receptive_field(ModelConfig(arch="cnn", n_layers=6, conv_kernel=3, conv_dilation=2)) == 127
    assert receptive_field(ModelConfig(arch="cnn", n_layers=4, conv_kernel=5, conv_dilation=1)) == 17


@pytest.mark.parametrize("dilation", [1, 2])
def test_causal_and_exactly_its_receptive_field(dilation):
    m = _model(conv_dilation=dilation)
    r = m.receptive_field
    t = r + 5
    ids = torch.randint(0, 20, (1, t), generator=torch.Generator().manual_seed(1))
    base = m(ids).logits
    last = t - 1
    far = ids.clone()
    far[0, last - r] = (far[0, last - r] + 1) % 20  # just outside the window of the last position
    assert torch.equal(m(far).logits[0, last], base[0, last])
    near = ids.clone()
    near[0, last - r + 1] = (near[0, last - r + 1] + 1) % 20  # the window's oldest position
    assert not torch.allclose(m(near).logits[0, last], base[0, last])
    # causal: a change at position j leaves every earlier position alone
    j = 4
    fut = ids.clone()
    fut[0, j] = (fut[0, j] + 1) % 20
    out = m(fut).logits
    assert torch.equal(out[0, :j], base[0, :j])


def test_loss_shape_and_tied_head():
    m = _model()
    ids = torch.randint(0, 20, (2, 9))
    out = m(ids, ids)
    assert out.logits.shape == (2, 9, 20) and out.loss.ndim == 0
    assert m.lm_head.weight is m.tok.weight


def test_errors_name_the_problem():
    m = _model()
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        m(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        m(torch.full((1, 4), 25))
    with pytest.raises(ValueError, match="no decoding cache"):
        m.new_cache(1, 8)
    with pytest.raises(ValueError, match="conv_kernel must be positive"):
        ModelConfig(arch="cnn", conv_kernel=0)
