"""The "well-performing CNN" lesson of the lecture slides "CNNs part II", in numpy over the
Backend protocol: input standardisation, dropout, batch normalisation and dead ReLUs, weight
initialisation, and cnn1 vs cnn2. Every number comes from the frameworks' own layers."""
