"""chainrule.nn: modules, layers, activations, losses, initializers (PyTorch's names)."""

from chainrule.nn.module import Module, Parameter  # isort: skip
from chainrule.nn import functional, init, utils
from chainrule.nn.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    NoisyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softmax2d,
    Softplus,
    Tanh,
)
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.bilinear import Bilinear
from chainrule.nn.channel_shuffle import ChannelShuffle
from chainrule.nn.containers import (
    Identity,
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Residual,
    Sequential,
)
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from chainrule.nn.distance import (
    CosineEmbeddingLoss,
    CosineSimilarity,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    KLDivLoss,
    MarginRankingLoss,
    PairwiseDistance,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from chainrule.nn.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from chainrule.nn.linear import Embedding, Flatten, Linear
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    EuclideanLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)
from chainrule.nn.loss_multilabel import MultiLabelMarginLoss, MultiLabelSoftMarginLoss
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm, Normalize
from chainrule.nn.normalization_more import (
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LocalResponseNorm,
    RMSNorm,
)
from chainrule.nn.patches import Fold, Unfold
from chainrule.nn.pointwise import (
    CELU,
    GLU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    Mish,
    PReLU,
    ReLU6,
    SiLU,
    Softmin,
    Softsign,
    Tanhshrink,
    Threshold,
)
from chainrule.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    LPPool1d,
    LPPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
)
from chainrule.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.reservoir import EchoState
from chainrule.nn.residual import BasicBlock
from chainrule.nn.resize import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    PixelShuffle,
    PixelUnshuffle,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    Unflatten,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
    ZeroPad1d,
    ZeroPad2d,
)
from chainrule.nn.shrink import Hardshrink, Softshrink
from chainrule.nn.sync_batchnorm import SyncBatchNorm
from chainrule.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "ELU", "GELU", "GRU", "LSTM", "RNN", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d",
    "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BasicBlock", "BatchNorm1d", "BatchNorm2d",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout",
    "Dropout1d", "Dropout2d", "Dropout3d", "EchoState", "Embedding", "EuclideanLoss",
    "Flatten", "GRUCell", "HuberLoss", "Identity", "L1Loss", "LSTMCell", "LayerNorm", "LeakyReLU",
    "Linear", "LogSoftmax", "MSELoss", "MaxPool1d", "MaxPool2d", "Module", "ModuleDict",
    "ModuleList", "MultiMarginLoss", "MultiheadAttention",
    "NLLLoss", "NoisyReLU", "Normalize", "Parameter", "RNNCell", "ReLU",
    "Residual", "Sequential", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "SyncBatchNorm",
    "Tanh",
    "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer",
    "functional", "init", "utils",
]
__all__ += [  # nn/pointwise.py
    "CELU", "GLU", "SELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish", "PReLU",
    "ReLU6", "SiLU", "Softmin", "Softsign", "Tanhshrink", "Threshold",
]
__all__ += [  # nn/distance.py
    "CosineEmbeddingLoss", "CosineSimilarity", "GaussianNLLLoss", "HingeEmbeddingLoss", "KLDivLoss",
    "MarginRankingLoss", "PairwiseDistance", "PoissonNLLLoss", "SoftMarginLoss",
    "TripletMarginLoss",
]
__all__ += [  # nn/resize.py, nn/patches.py
    "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "Fold", "PixelShuffle",
    "PixelUnshuffle", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
    "Unflatten", "Unfold", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad1d",
    "ZeroPad2d",
]
__all__ += [  # nn/normalization.py, nn/normalization_more.py
    "BatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LocalResponseNorm", "RMSNorm",
]
__all__ += [  # nn/pooling.py, nn/bilinear.py, nn/shrink.py, nn/channel_shuffle.py,
    # nn/containers.py, nn/loss_multilabel.py, nn/activation.py
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Bilinear", "ChannelShuffle", "Hardshrink",
    "LPPool1d", "LPPool2d", "MaxUnpool1d", "MaxUnpool2d", "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss", "ParameterDict", "ParameterList", "Softmax2d", "Softshrink",
]


def __getattr__(name: str) -> object:
    """``nn.parallel`` loads on first use (it sits on chainrule.distributed)."""
    if name == "parallel":
        import importlib

        return importlib.import_module("chainrule.nn.parallel")
    raise AttributeError(f"module 'chainrule.nn' has no attribute {name!r}")
