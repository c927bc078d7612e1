from setuptools import setup

REQUIRES = ["scikit-learn>=1.0", "pandas"]

setup(name="mymodel", version="0.1", packages=["mymodel"], install_requires=REQUIRES)
