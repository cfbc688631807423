"""The baseline `workbench bench train` compares against: a plain Keras compile + model.fit on
numpy arrays, with the same loss and accuracy metric."""

import keras


def baseline(model, x, y, batch_size: int, epochs: int, learning_rate: float) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
