from setuptools import find_packages, setup

setup(
    name="scaler-model",
    version="0.1.0",
    packages=find_packages(include=["scaler"]),
    install_requires=["toolz==0.12.1"],
)
