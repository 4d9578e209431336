from ipykernel.kernelapp import IPKernelApp

from .kernel import SkynetKernel

IPKernelApp.launch_instance(kernel_class=SkynetKernel)
