namespace Lineage.Security.Keras;

/// <summary>Names Keras resolves by itself (no custom_objects needed): layers, initializers, optimizers, losses, …</summary>
internal static class KerasNames
{
    private static readonly HashSet<string> Classes = new(StringComparer.Ordinal)
    {
        // models
        "Sequential", "Functional", "Model",
        // core / input
        "InputLayer", "Input", "Dense", "EinsumDense", "Activation", "Embedding", "Masking", "Identity", "Wrapper",
        "TFOpLambda", "SlicingOpLambda", "InputSpec",
        // convolution
        "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "SeparableConv1D",
        "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
        "Convolution2DTranspose", "Convolution3DTranspose", "SeparableConvolution1D", "SeparableConvolution2D",
        // pooling
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D",
        "GlobalAveragePooling2D", "GlobalAveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D",
        "AvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
        // recurrent
        "RNN", "SimpleRNN", "SimpleRNNCell", "GRU", "GRUCell", "LSTM", "LSTMCell", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
        "Bidirectional", "TimeDistributed", "StackedRNNCells", "CuDNNGRU", "CuDNNLSTM", "AbstractRNNCell", "PeepholeLSTMCell",
        // normalization / regularization
        "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "SpectralNormalization",
        "RMSNormalization", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
        "GaussianNoise", "AlphaDropout", "ActivityRegularization", "LayerNorm", "BatchNorm", "SyncBatchNormalization",
        // attention
        "Attention", "AdditiveAttention", "MultiHeadAttention", "GroupedQueryAttention",
        // reshaping / merging
        "Reshape", "Flatten", "RepeatVector", "Permute", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D",
        "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Concatenate", "Average",
        "Maximum", "Minimum", "Add", "Subtract", "Multiply", "Dot",
        // activation layers
        "ReLU", "Softmax", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU",
        // preprocessing
        "TextVectorization", "Normalization", "Discretization", "CategoryEncoding", "Hashing", "HashedCrossing",
        "StringLookup", "IntegerLookup", "Rescaling", "Resizing", "CenterCrop", "RandomCrop", "RandomFlip",
        "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness", "RandomHeight",
        "RandomWidth", "AutoContrast", "Solarization", "RandomGrayscale", "RandomHue", "RandomSaturation",
        "RandomColorJitter", "RandomSharpness", "RandomShear", "RandomPerspective", "RandomPosterization",
        "RandomErasing", "RandomGaussianBlur", "RandomInvert", "MelSpectrogram", "STFTSpectrogram", "Pipeline",
        // initializers
        "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "Orthogonal",
        "Identity", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "STFTInitializer",
        "IdentityInitializer", "OrthogonalInitializer",
        // regularizers / constraints
        "L1", "L2", "L1L2", "OrthogonalRegularizer", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "RadialConstraint",
        // optimizers / schedules
        "SGD", "RMSprop", "Adam", "AdamW", "Adadelta", "Adagrad", "Adamax", "Adafactor", "Nadam", "Ftrl", "Lion", "Lamb",
        "LossScaleOptimizer", "Muon", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay",
        "CosineDecay", "CosineDecayRestarts",
        // losses
        "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
        "SparseCategoricalCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
        "MeanSquaredLogarithmicError", "CosineSimilarity", "Huber", "LogCosh", "Poisson", "KLDivergence", "Hinge",
        "SquaredHinge", "CategoricalHinge", "Tversky", "Dice", "CTC", "Circle", "LossFunctionWrapper",
        // metrics
        "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
        "SparseTopKCategoricalAccuracy", "AUC", "Precision", "Recall", "Mean", "Sum", "MeanMetricWrapper", "MeanIoU",
        "IoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU", "F1Score", "FBetaScore", "R2Score", "RootMeanSquaredError",
        "TruePositives", "TrueNegatives", "FalsePositives", "FalseNegatives", "PrecisionAtRecall", "RecallAtPrecision",
        "SensitivityAtSpecificity", "SpecificityAtSensitivity", "LogCoshError", "PearsonCorrelation", "ConcordanceCorrelation",
        // dtype policies and Keras 3 serialization markers
        "DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy", "DTypePolicyMap", "Policy",
        "__tuple__", "__lambda__", "__tensor__", "__numpy__", "__bytes__", "__typespec__", "__ellipsis__", "__slice__", "__keras_tensor__",
        "TensorShape", "Functional>Functional",
    };

    private static readonly HashSet<string> Activations = new(StringComparer.Ordinal)
    {
        "linear", "relu", "relu6", "sigmoid", "softmax", "log_softmax", "tanh", "elu", "selu", "softplus", "softsign",
        "swish", "silu", "gelu", "hard_sigmoid", "hard_silu", "hard_swish", "exponential", "leaky_relu", "mish", "celu",
        "glu", "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink", "sparse_plus", "sparsemax", "squareplus",
        "threshold", "log_sigmoid", "sparse_sigmoid",
    };

    public static bool IsKnownClass(string name) => Classes.Contains(name);

    public static bool IsKnownActivation(string name) => Activations.Contains(name);
}
