netspec draw lenet5.yaml --depth 0
